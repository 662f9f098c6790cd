//! `tcpwave connect`: the engine as a client on a TUN device, printing its state changes.
//!
//! ```text
//! ip netns exec demo tcpwave connect --tun tun0 --addr 192.0.2.2 192.0.2.1:8000 --http /
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::time::Duration;

use anyhow::Context;
use tcpwave_tun::{http, signals, trace, TcpStream};

use super::output;
use super::serve::CommonArgs;

/// Longest response body printed in full; larger ones are summarised.
const PRINT_MAX: usize = 64 * 1024;

#[derive(clap::Args)]
pub struct ConnectArgs {
    /// TUN device to create (or attach to, if it exists), e.g. tun0.
    #[arg(long, value_name = "NAME")]
    tun: String,
    /// The engine's IPv4 address, e.g. 192.0.2.2.
    #[arg(long, value_name = "A")]
    addr: Ipv4Addr,
    /// Where to connect, e.g. 192.0.2.1:8000.
    #[arg(value_name = "HOST:PORT")]
    target: SocketAddrV4,
    #[command(flatten)]
    what: WhatArgs,
    #[command(flatten)]
    common: CommonArgs,
    /// Give up connecting after this many seconds.
    #[arg(long, default_value_t = 10)]
    timeout_s: u64,
}

#[derive(clap::Args)]
#[group(required = false, multiple = false)]
struct WhatArgs {
    /// Send TEXT, half-close, and print everything the server sends back until it closes.
    #[arg(long, value_name = "TEXT")]
    send: Option<String>,
    /// GET this path (with Connection: close) and print the response.
    #[arg(long, value_name = "PATH")]
    http: Option<String>,
}

pub fn run(args: ConnectArgs) -> anyhow::Result<u8> {
    signals::install();
    let cfg = args.common.stack_config(args.addr)?;
    let stack = tcpwave_tun::lab::open_stack(&args.tun, cfg, args.common.kernel_addr.as_deref())
        .with_context(|| format!("starting the engine on TUN device {}", args.tun))?;
    let _printer = trace::spawn_printer(stack.subscribe(args.common.segments));
    let timeout = Duration::from_secs(args.timeout_s.max(1));
    let stream = TcpStream::connect_timeout(&stack, args.target, timeout)
        .with_context(|| format!("connect to {}", args.target))?;
    stream.set_read_timeout(Some(timeout))?;
    if let Some(path) = &args.what.http {
        let response = http::get(&stream, &args.target.ip().to_string(), path)
            .with_context(|| format!("GET {path}"))?;
        output::to_stdout(|out| {
            writeln!(out, "{}\n", response.head)?;
            write_body(out, &response.body)
        })?;
    } else if let Some(text) = &args.what.send {
        (&stream).write_all(text.as_bytes())?;
        stream.shutdown(Shutdown::Write)?;
        let mut reply = Vec::new();
        (&stream)
            .read_to_end(&mut reply)
            .context("reading the reply")?;
        output::to_stdout(|out| write_body(out, &reply))?;
    }
    drop(stream);
    // Let the close handshake run so its state changes are printed.
    std::thread::sleep(Duration::from_millis(300));
    let netstat = tcpwave_tun::netstat::render(&stack);
    output::to_stdout(|out| out.write_all(netstat.as_bytes()))?;
    Ok(0)
}

/// The body as text, or its length when it is long or not UTF-8.
fn write_body(out: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    match std::str::from_utf8(body) {
        Ok(text) if body.len() <= PRINT_MAX => out.write_all(text.as_bytes()),
        _ => writeln!(out, "({} bytes)", body.len()),
    }
}
