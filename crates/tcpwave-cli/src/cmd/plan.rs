//! `tcpwave plan` (being built).

#[derive(clap::Args)]
pub struct PlanArgs {}

pub fn run(_args: PlanArgs) -> anyhow::Result<u8> {
    anyhow::bail!("`tcpwave plan` is not built yet")
}
