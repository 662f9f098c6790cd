//! `tcpwave scenario` (being built).

#[derive(clap::Args)]
pub struct ScenarioArgs {}

pub fn run(_args: ScenarioArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`tcpwave scenario` is not built yet")
}
