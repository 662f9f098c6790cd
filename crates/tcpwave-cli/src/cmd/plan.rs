//! `tcpwave plan`: ports, TIME_WAIT and the sustainable rate for a short-connection workload.
//! The arithmetic is `tcpwave_doctor::plan::compute` (shared with the simulator).

use tcpwave_doctor::plan::{self, Closer, PlanInput};

use super::output;

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 sustainable, 1 the ports run out at this rate, 2 bad input.\n\
    Formulas and the JSON schema (tcpwave-plan/1): docs/plan.md."
)]
pub struct PlanArgs {
    /// Requests per second to sustain, all pools together.
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    rate: f64,
    /// Seconds one connection stays open.
    #[arg(
        long,
        value_name = "S",
        default_value_t = 0.0,
        allow_negative_numbers = true
    )]
    lifetime: f64,
    /// TIME_WAIT length in seconds (Linux: 60, fixed in the kernel).
    #[arg(long = "time-wait", value_name = "S", default_value_t = plan::LINUX_TIME_WAIT_S,
          allow_negative_numbers = true)]
    time_wait: f64,
    /// Ephemeral port range, as net.ipv4.ip_local_port_range.
    #[arg(long = "port-range", value_name = "A-B", default_value = "32768-60999")]
    port_range: String,
    /// Source addresses the client spreads its connections over.
    #[arg(long, value_name = "N", default_value_t = 1)]
    sources: u32,
    /// Destination ip:port pairs the client spreads its connections over.
    #[arg(long, value_name = "N", default_value_t = 1)]
    destinations: u32,
    /// Requests carried by one connection (keep-alive).
    #[arg(long = "requests-per-conn", value_name = "K", default_value_t = 1)]
    requests_per_conn: u32,
    /// The client has net.ipv4.tcp_tw_reuse=1 (TIME_WAIT ports reusable after 1 s).
    #[arg(long = "tw-reuse")]
    tw_reuse: bool,
    /// Which side closes first and so keeps TIME_WAIT.
    #[arg(long, value_enum, default_value_t = CloserArg::Client)]
    closer: CloserArg,
    /// Print the plan as JSON (schema tcpwave-plan/1).
    #[arg(long)]
    json: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum CloserArg {
    Client,
    Server,
}

pub fn run(args: PlanArgs) -> anyhow::Result<u8> {
    let (port_low, port_high) = plan::parse_port_range(&args.port_range)?;
    let input = PlanInput {
        rate_per_s: args.rate,
        lifetime_s: args.lifetime,
        time_wait_s: args.time_wait,
        port_low,
        port_high,
        sources: args.sources,
        destinations: args.destinations,
        requests_per_conn: args.requests_per_conn,
        tw_reuse: args.tw_reuse,
        closer: match args.closer {
            CloserArg::Client => Closer::Client,
            CloserArg::Server => Closer::Server,
        },
    };
    let report = plan::compute(&input)?;
    output::report(args.json, &report, plan::render::render)?;
    Ok(if report.sustainable { 0 } else { 1 })
}
