//! `tcpwave doctor`: diagnose this host's (or a namespace's) TCP connection states.
//! The work is in the tcpwave-doctor crate; this file maps flags to its options.

use tcpwave_doctor::filter::{
    check_process_running, parse_dst, parse_process, parse_states, Filters,
};
use tcpwave_doctor::watch::WatchOptions;
use tcpwave_doctor::{DoctorError, DoctorOptions, SourceChoice};

use super::output;

#[derive(clap::Args)]
#[command(
    after_help = "Exit status: 0 healthy, 1 a finding at warning level or above, 2 error.\n\
    JSON schema: docs/doctor.md (tcpwave-doctor/1; --watch --json prints one \
    tcpwave-doctor-watch/1 object per line)."
)]
pub struct DoctorArgs {
    /// Diagnose the network namespace /run/netns/NAME (from `ip netns add`); needs root.
    #[arg(long, value_name = "NAME")]
    netns: Option<String>,
    /// Print the report as JSON (schema tcpwave-doctor/1, documented in docs/doctor.md).
    #[arg(long)]
    json: bool,
    /// Sample every SECS seconds and report growth per process and per destination.
    #[arg(long, value_name = "SECS", allow_negative_numbers = true)]
    watch: Option<f64>,
    /// With --watch: samples to take, the first included (default: until --duration or Ctrl-C).
    #[arg(long, value_name = "N", requires = "watch")]
    count: Option<u32>,
    /// With --watch: stop after SECS seconds.
    #[arg(
        long,
        value_name = "SECS",
        requires = "watch",
        allow_negative_numbers = true
    )]
    duration: Option<f64>,
    /// Only these states, comma-separated or repeated (close-wait, time-wait, established,
    /// fin-wait-2, listen, ...). The kernel does the filtering.
    #[arg(long, value_name = "STATE")]
    state: Vec<String>,
    /// Only sockets held by this process: a pid (4711) or a command name (redis-server).
    #[arg(long, value_name = "PID|NAME")]
    process: Option<String>,
    /// Only sockets whose remote endpoint matches: 192.0.2.3, 192.0.2.3:6379 or :6379.
    #[arg(long, value_name = "ADDR")]
    dst: Option<String>,
    /// Rows per table; the remaining groups are counted.
    #[arg(long, value_name = "N", default_value_t = 10,
          value_parser = clap::value_parser!(u16).range(1..))]
    top: u16,
    /// Where to read sockets: netlink sock_diag with a /proc fallback (auto), or only one.
    #[arg(long, value_enum, default_value_t = SourceArg::Auto)]
    source: SourceArg,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum SourceArg {
    Auto,
    Netlink,
    Proc,
}

pub fn run(args: DoctorArgs) -> anyhow::Result<u8> {
    let filters = Filters {
        states: parse_states(&args.state)?,
        process: args.process.as_deref().map(parse_process).transpose()?,
        dst: args.dst.as_deref().map(parse_dst).transpose()?,
    };
    if let Some(process) = &filters.process {
        check_process_running(process, std::path::Path::new("/proc"))?;
    }
    let options = DoctorOptions {
        netns: args.netns,
        filters,
        source: match args.source {
            SourceArg::Auto => SourceChoice::Auto,
            SourceArg::Netlink => SourceChoice::Netlink,
            SourceArg::Proc => SourceChoice::Proc,
        },
        top: usize::from(args.top),
    };
    if let Some(interval_s) = args.watch {
        let watch = WatchOptions::new(interval_s, args.count, args.duration, args.json)?;
        let mut out = std::io::stdout().lock();
        return match tcpwave_doctor::watch::run(&options, &watch, &mut out) {
            // `tcpwave doctor --watch 5 | head` ends the watch when head exits.
            Err(DoctorError::Output(error)) => output::finish(Err(error)).map(|()| 0),
            result => Ok(result?),
        };
    }
    let report = tcpwave_doctor::diagnose(&options)?;
    output::report(args.json, &report, tcpwave_doctor::render::render)?;
    Ok(report.exit_code)
}
