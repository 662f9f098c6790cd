//! Can the kernel reach the engine? The engine answers as one address on a TUN device; the
//! kernel sends a packet for it into the device only if the device is up, has an IPv4
//! address of its own, and the kernel's route to the engine's address goes through it.
//! `serve` and `connect` check the addresses they are given before creating anything
//! ([`check_kernel_addr`]) and look at the device once it runs ([`diagnose_device`]), so that
//! a setup nothing can connect to is refused or warned about instead of failing silently.
//!
//! The look is `ip -o link show`, `ip -o -4 addr show` and `ip -o route get`: netlink
//! queries, nothing is sent.

use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// An IPv4 address with its prefix length, as `--kernel-addr 192.0.2.1/24` gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    pub addr: Ipv4Addr,
    pub prefix: u8,
}

impl Cidr {
    /// Parses `A.B.C.D/N` (N from 0 to 32).
    pub fn parse(text: &str) -> Result<Cidr, String> {
        let bad = || {
            format!(
                "--kernel-addr {text:?} is not an IPv4 address with a prefix length, like 192.0.2.1/24"
            )
        };
        let (addr, prefix) = text.trim().split_once('/').ok_or_else(bad)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| bad())?;
        let prefix: u8 = prefix.parse().map_err(|_| bad())?;
        if prefix > 32 {
            return Err(bad());
        }
        Ok(Cidr { addr, prefix })
    }

    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// The subnet's first address (`192.0.2.0` for `192.0.2.1/24`).
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) & self.mask())
    }

    /// The subnet's last address (`192.0.2.255`).
    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.addr) | !self.mask())
    }

    pub fn contains(self, addr: Ipv4Addr) -> bool {
        u32::from(addr) & self.mask() == u32::from(self.addr) & self.mask()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// A kernel address to suggest for an engine address: `.1` of its /24, or `.2` when the
/// engine is `.1` (`192.0.2.2` -> `192.0.2.1/24`).
pub fn suggest_kernel_cidr(engine: Ipv4Addr) -> Cidr {
    let [a, b, c, d] = engine.octets();
    let last = if d == 1 { 2 } else { 1 };
    Cidr {
        addr: Ipv4Addr::new(a, b, c, last),
        prefix: 24,
    }
}

/// An engine address to suggest inside `kernel`'s subnet: the next address after the
/// kernel's, or the one before it at the end of the subnet.
fn suggest_engine(kernel: Cidr) -> Option<Ipv4Addr> {
    let k = u32::from(kernel.addr);
    [k.wrapping_add(1), k.wrapping_sub(1)]
        .into_iter()
        .map(Ipv4Addr::from)
        .find(|&a| usable(kernel, a) && a != kernel.addr)
}

/// Whether `addr` is a host address of `cidr`'s subnet (not its network or broadcast
/// address, except in /31 and /32, which have none).
fn usable(cidr: Cidr, addr: Ipv4Addr) -> bool {
    cidr.contains(addr)
        && (cidr.prefix >= 31 || (addr != cidr.network() && addr != cidr.broadcast()))
}

/// Refuses an engine address that the kernel could never reach through the device given
/// `--kernel-addr`: the kernel's own address, one outside the subnet, or the subnet's
/// network or broadcast address. The message says what to give instead.
pub fn check_kernel_addr(engine: Ipv4Addr, kernel_addr: &str) -> Result<Cidr, String> {
    let kernel = Cidr::parse(kernel_addr)?;
    let subnet = Cidr {
        addr: kernel.network(),
        prefix: kernel.prefix,
    };
    let instead = match suggest_engine(kernel) {
        Some(a) => format!("give the engine another address in {subnet}, e.g. --addr {a}"),
        None => format!(
            "{subnet} has no room for a second address: use a /24, e.g. --kernel-addr {}",
            suggest_kernel_cidr(engine)
        ),
    };
    if engine == kernel.addr {
        return Err(format!(
            "--addr {engine} is the kernel's own address (--kernel-addr {kernel}): the kernel \
             would answer it itself and nothing would reach the engine; {instead}"
        ));
    }
    if !kernel.contains(engine) {
        return Err(format!(
            "--addr {engine} is outside --kernel-addr {kernel} (subnet {subnet}): the kernel \
             routes only that subnet into the device, so nothing could connect to the engine; \
             {instead}, or put the kernel in the engine's subnet, e.g. --kernel-addr {}",
            suggest_kernel_cidr(engine)
        ));
    }
    if !usable(kernel, engine) {
        let which = if engine == kernel.network() {
            "network"
        } else {
            "broadcast"
        };
        return Err(format!(
            "--addr {engine} is the {which} address of {subnet}, which the kernel does not \
             route to a host; {instead}"
        ));
    }
    Ok(kernel)
}

/// What `ip` says about the device and the route to the engine, for [`diagnose`].
#[derive(Clone, Debug, Default)]
pub struct DeviceView {
    /// `ip -o link show dev NAME`.
    pub link: String,
    /// `ip -o -4 addr show dev NAME`.
    pub addrs: String,
    /// `ip -o route get ENGINE` (its stdout, or its stderr when it failed).
    pub route: String,
}

/// Looks at `device` and the route to `engine` in the current network namespace and
/// returns a warning when the kernel cannot reach the engine through it (`None`: fine, or
/// `ip` could not be run).
pub fn diagnose_device(device: &str, engine: Ipv4Addr) -> Option<String> {
    let run = |args: &[&str]| -> Option<String> {
        let out = Command::new("ip")
            .args(args)
            .stdin(Stdio::null())
            .output()
            .ok()?;
        let text = if out.status.success() {
            out.stdout
        } else {
            out.stderr
        };
        Some(String::from_utf8_lossy(&text).into_owned())
    };
    let engine_text = engine.to_string();
    let view = DeviceView {
        link: run(&["-o", "link", "show", "dev", device])?,
        addrs: run(&["-o", "-4", "addr", "show", "dev", device])?,
        route: run(&["-o", "route", "get", &engine_text])?,
    };
    diagnose(device, engine, &view)
}

/// The warning for what `ip` showed (see [`diagnose_device`]).
pub fn diagnose(device: &str, engine: Ipv4Addr, view: &DeviceView) -> Option<String> {
    let up = view
        .link
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"));
    let words: Vec<&str> = view.addrs.split_whitespace().collect();
    let addrs: Vec<&str> = words
        .windows(2)
        .filter(|w| w[0] == "inet")
        .map(|w| w[1])
        .collect();
    let mut route = view.route.split_whitespace();
    let local = route.clone().next() == Some("local");
    let route_dev = route.by_ref().skip_while(|w| *w != "dev").nth(1);
    let suggestion = suggest_kernel_cidr(engine);
    let fix = format!(
        "give the device an address with --kernel-addr {suggestion} or \
         `ip addr add {suggestion} dev {device} && ip link set {device} up`"
    );
    let mut problems = Vec::new();
    if !up {
        problems.push(format!("{device} is down"));
    }
    if addrs.is_empty() {
        problems.push(format!("{device} has no IPv4 address"));
    }
    if local {
        return Some(format!(
            "the kernel cannot reach {engine} via {device}: {engine} is one of the kernel's own \
             addresses ({}), so the kernel answers it itself; give the engine an address of \
             its own in the device's subnet",
            route_dev.unwrap_or("lo")
        ));
    }
    match route_dev {
        Some(dev) if dev == device => {}
        Some(dev) => problems.push(format!(
            "the kernel routes {engine} via {dev}, not {device}"
        )),
        None => problems.push(format!("the kernel has no route to {engine}")),
    }
    if problems.is_empty() {
        return None;
    }
    let why = problems.join(", ");
    if up && !addrs.is_empty() {
        return Some(format!(
            "the kernel cannot reach {engine} via {device} ({why}; {device} has {}): give the \
             engine an address in the device's subnet, or add one for it with \
             `ip route add {engine} dev {device}`",
            addrs.join(", ")
        ));
    }
    Some(format!(
        "the kernel cannot reach {engine} via {device} ({why}): {fix}"
    ))
}

#[cfg(test)]
mod tests;
