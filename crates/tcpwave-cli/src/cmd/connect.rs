//! `tcpwave connect`: the engine as a client on a TUN device, printing its state changes.
//! The kernel server must be listening before connect runs; a device that connect creates
//! (and its --kernel-addr) exists only while it runs, so make it persistent first:
//!
//! ```text
//! ip netns exec demo ip tuntap add mode tun name tun1
//! ip netns exec demo ip addr add 198.51.100.1/24 dev tun1
//! ip netns exec demo ip link set tun1 up
//! ip netns exec demo python3 -m http.server 8000 --bind 198.51.100.1 &
//! ip netns exec demo tcpwave connect --tun tun1 --addr 198.51.100.2 198.51.100.1:8000 --http /
//! ```

use std::io::{Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddrV4};
use std::time::Duration;

use anyhow::Context;
use tcpwave_tun::{http, signals, trace, Stack, TcpStream};

use super::output;
use super::serve::{finish, CommonArgs};

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
    /// Give up connecting after this many seconds (at least 1).
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
    // Whether the device is there before we open it: one we create goes away with us.
    let existed = std::path::Path::new("/sys/class/net")
        .join(&args.tun)
        .exists();
    let stack = args.common.open_stack("connect", &args.tun, args.addr)?;
    if let Some(legend) = args.common.segment_legend() {
        output::to_stdout(|out| writeln!(out, "{legend}"))?;
    }
    let printer = trace::spawn_printer(stack.subscribe(args.common.print_segments()));
    let result = run_on(&args, &stack, existed);
    finish(stack, printer, result)
}

fn run_on(args: &ConnectArgs, stack: &Stack, existed: bool) -> anyhow::Result<u8> {
    let timeout = Duration::from_secs(args.timeout_s.max(1));
    let stream = TcpStream::connect_timeout(stack, args.target, timeout).map_err(|e| {
        let hint = connect_hint(args, &e, existed);
        anyhow::anyhow!("connect to {}: {e}{hint}", args.target)
    })?;
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
    let netstat = tcpwave_tun::netstat::render_if_any(stack);
    output::to_stdout(|out| out.write_all(netstat.as_bytes()))?;
    Ok(0)
}

/// What to check when connect failed, for the error message ("" when nothing to add).
fn connect_hint(args: &ConnectArgs, error: &std::io::Error, existed: bool) -> String {
    if error.kind() != std::io::ErrorKind::TimedOut {
        return String::new();
    }
    let mut hint = format!(
        "; is a server listening on {}, and does the kernel route {} into {}?",
        args.target, args.addr, args.tun
    );
    if !existed {
        hint.push_str(&format!(
            " {} was created by this run and goes away with it, so a kernel server could not \
             bind {} beforehand: make the device persistent first (`ip tuntap add mode tun \
             name {}`, give it the kernel's address, bring it up, start the server; see \
             docs/tun.md), or have the server listen on 0.0.0.0",
            args.tun,
            args.target.ip(),
            args.tun
        ));
    }
    hint
}

/// The body as text, or its length when it is long or not UTF-8.
fn write_body(out: &mut impl Write, body: &[u8]) -> std::io::Result<()> {
    match std::str::from_utf8(body) {
        Ok(text) if body.len() <= PRINT_MAX => out.write_all(text.as_bytes()),
        _ => writeln!(out, "({} bytes)", body.len()),
    }
}
