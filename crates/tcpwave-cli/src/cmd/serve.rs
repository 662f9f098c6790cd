//! `tcpwave serve`: the engine as a server on a TUN device (HTTP/1.1, echo or discard),
//! printing each connection's state changes. Run it inside a network namespace:
//!
//! ```text
//! ip netns add demo
//! ip netns exec demo tcpwave serve --tun tun0 --addr 192.0.2.2 --kernel-addr 192.0.2.1/24 --http
//! ip netns exec demo curl http://192.0.2.2/bytes/100
//! ```

use std::io::Write;
use std::net::Ipv4Addr;

use anyhow::Context;
use tcpwave_tun::serve::{serve, ServeMode, ServeOptions};
use tcpwave_tun::{reach, signals, trace, Loss, Stack, StackConfig};

use super::output;

#[derive(clap::Args)]
pub struct ServeArgs {
    /// TUN device to create (or attach to, if it exists), e.g. tun0.
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// The engine's IPv4 address, e.g. 192.0.2.2.
    #[arg(long, value_name = "A")]
    addr: Ipv4Addr,
    /// Port to listen on.
    #[arg(long, default_value_t = 80)]
    port: u16,
    #[command(flatten)]
    mode: ModeArgs,
    #[command(flatten)]
    common: CommonArgs,
    /// Stop after this many connections (default: until Ctrl-C).
    #[arg(long, value_name = "N")]
    max_accepts: Option<u64>,
    /// Connections served at once; more wait in the accept queue.
    #[arg(long, default_value_t = 64)]
    max_connections: usize,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct ModeArgs {
    /// HTTP/1.1 with keep-alive: `/`, `/bytes/N`, `/netstat`.
    #[arg(long)]
    http: bool,
    /// Write back what is read.
    #[arg(long)]
    echo: bool,
    /// Read and throw away.
    #[arg(long)]
    discard: bool,
}

/// Options `serve` and `connect` share.
#[derive(clap::Args)]
pub struct CommonArgs {
    /// Give the device this address for the kernel's side and bring it up (e.g.
    /// 192.0.2.1/24); without it, configure the device yourself with `ip`.
    #[arg(long, value_name = "CIDR")]
    pub kernel_addr: Option<String>,
    /// Set an engine knob, NAME=VALUE (repeatable; e.g. tcp_fin_timeout_s=5).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub knobs: Vec<String>,
    /// Drop this percentage of packets in each direction, 0 to 100 (seeded; for tests
    /// without netem).
    #[arg(long, value_name = "PERCENT", value_parser = loss_percent)]
    pub loss: Option<f64>,
    /// Seed of --loss.
    #[arg(long, default_value_t = 1)]
    pub loss_seed: u64,
    /// Print every segment, not only state changes (seq/ack absolute, options in <...>).
    #[arg(long, overrides_with = "no_segments")]
    pub segments: bool,
    /// Print state changes only (the default here; `live` prints segments unless given it).
    #[arg(long, overrides_with = "segments")]
    pub no_segments: bool,
}

/// `--loss`: a percentage from 0 to 100, refused (not clamped) outside it, checked while
/// the arguments are parsed so that nothing is created for a wrong value.
fn loss_percent(text: &str) -> Result<f64, String> {
    let percent: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("give a percentage from 0 to 100, e.g. 5 or 0.5 (got {text:?})"))?;
    if !(0.0..=100.0).contains(&percent) {
        return Err(format!(
            "the loss is a percentage of packets, from 0 to 100 (got {text}); e.g. 5 drops one packet in 20"
        ));
    }
    Ok(percent)
}

impl CommonArgs {
    /// The runtime configuration these options describe.
    pub fn stack_config(&self, addr: Ipv4Addr) -> anyhow::Result<StackConfig> {
        let mut cfg = StackConfig::new(addr);
        for knob in &self.knobs {
            cfg.engine.set_assignment(knob)?;
        }
        cfg.loss = self.loss.map(|p| Loss::percent(p, self.loss_seed));
        Ok(cfg)
    }

    /// Checks `--addr` against `--kernel-addr` (before anything is created), opens the
    /// device, starts the engine, and warns on stderr when the kernel cannot reach `addr`
    /// through the device (down, no IPv4 address, routed elsewhere).
    pub fn open_stack(&self, command: &str, tun: &str, addr: Ipv4Addr) -> anyhow::Result<Stack> {
        let cfg = self.stack_config(addr)?;
        if let Some(cidr) = &self.kernel_addr {
            reach::check_kernel_addr(addr, cidr).map_err(anyhow::Error::msg)?;
        }
        let stack = tcpwave_tun::lab::open_stack(tun, cfg, self.kernel_addr.as_deref())
            .with_context(|| format!("starting the engine on TUN device {tun}"))?;
        if let Some(warning) = reach::diagnose_device(tun, addr) {
            eprintln!("tcpwave {command}: warning: {warning}");
        }
        Ok(stack)
    }

    /// Whether to print every segment (the last of --segments / --no-segments wins).
    pub fn print_segments(&self) -> bool {
        self.segments && !self.no_segments
    }

    /// The line saying how segments are printed, when they are.
    pub fn segment_legend(&self) -> Option<&'static str> {
        self.print_segments().then_some(trace::SEGMENT_LEGEND)
    }
}

/// Stops the engine, lets the printer write what is left (a close the engine made last),
/// then gives back `result`.
pub fn finish<T>(
    stack: Stack,
    printer: std::thread::JoinHandle<()>,
    result: anyhow::Result<T>,
) -> anyhow::Result<T> {
    drop(stack);
    let _ = printer.join();
    result
}

pub fn run(args: ServeArgs) -> anyhow::Result<u8> {
    signals::install();
    let stack = args.common.open_stack("serve", &args.tun, args.addr)?;
    let printer = trace::spawn_printer(stack.subscribe(args.common.print_segments()));
    let result = run_on(&args, &stack);
    finish(stack, printer, result)
}

fn run_on(args: &ServeArgs, stack: &Stack) -> anyhow::Result<u8> {
    let mode = if args.mode.http {
        ServeMode::Http
    } else if args.mode.echo {
        ServeMode::Echo
    } else {
        ServeMode::Discard
    };
    output::to_stdout(|out| {
        writeln!(
            out,
            "tcpwave serve: {mode} on {}:{} via {} (Ctrl-C to stop)",
            args.addr, args.port, args.tun
        )?;
        if let Some(legend) = args.common.segment_legend() {
            writeln!(out, "{legend}")?;
        }
        Ok(())
    })?;
    let opts = ServeOptions {
        port: args.port,
        mode,
        connections_max: args.max_connections,
        accepts_max: args.max_accepts,
    };
    let summary = serve(stack, opts, signals::flag())
        .with_context(|| format!("serving on {}:{}", args.addr, args.port))?;
    output::to_stdout(|out| {
        writeln!(
            out,
            "stopped after {} connections, {} bytes received",
            summary.connections, summary.bytes_in
        )?;
        out.write_all(tcpwave_tun::netstat::render_if_any(stack).as_bytes())
    })?;
    Ok(0)
}
