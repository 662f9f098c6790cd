//! A Linux TUN device (IFF_TUN | IFF_NO_PI): every read is one IP packet, every write sends
//! one. The file descriptor is non-blocking; the event loop polls it.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::fs::OpenOptionsExt;
use std::process::{Command, Stdio};

use crate::error::TunError;

/// `_IOW('T', 202, int)` from `<linux/if_tun.h>`.
const TUNSETIFF: libc::c_ulong = 0x4004_54ca;
const IFF_TUN: libc::c_short = 0x0001;
const IFF_NO_PI: libc::c_short = 0x1000;
/// Interface names hold at most 15 bytes and a NUL.
const IFNAMSIZ: usize = 16;

/// `struct ifreq` as TUNSETIFF reads it: the name, then the flags (40 bytes in all).
#[repr(C)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    flags: libc::c_short,
    _pad: [u8; 22],
}

/// An open TUN device. Closing it (Drop) removes a device it created.
#[derive(Debug)]
pub struct TunDevice {
    file: File,
    name: String,
}

/// Checks an interface name: 1..=15 bytes of `[A-Za-z0-9_.-]`.
pub fn validate_ifname(name: &str) -> Result<(), TunError> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    if name.is_empty() || name.len() >= IFNAMSIZ || !name.chars().all(allowed) {
        return Err(TunError::BadName(name.to_string()));
    }
    Ok(())
}

impl TunDevice {
    /// Creates (or attaches to an existing persistent) TUN device `name` in the calling
    /// thread's network namespace.
    pub fn open(name: &str) -> Result<TunDevice, TunError> {
        validate_ifname(name)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
            .open("/dev/net/tun")
            .map_err(|source| match source.kind() {
                io::ErrorKind::PermissionDenied => TunError::NotRoot {
                    what: "opening /dev/net/tun",
                    // SAFETY: geteuid has no preconditions.
                    uid: unsafe { libc::geteuid() },
                },
                _ => TunError::OpenTun { source },
            })?;
        let mut req = IfReq {
            name: [0; IFNAMSIZ],
            flags: IFF_TUN | IFF_NO_PI,
            _pad: [0; 22],
        };
        req.name[..name.len()].copy_from_slice(name.as_bytes());
        // SAFETY: the fd is open; TUNSETIFF reads and writes a `struct ifreq`, which `req`
        // lays out (name[16], flags, padding to 40 bytes) and which outlives the call.
        let rc = unsafe { libc::ioctl(file.as_raw_fd(), TUNSETIFF as _, &mut req) };
        if rc < 0 {
            let source = io::Error::last_os_error();
            if source.raw_os_error() == Some(libc::EPERM) {
                return Err(TunError::NotRoot {
                    what: "creating a TUN device",
                    // SAFETY: geteuid has no preconditions.
                    uid: unsafe { libc::geteuid() },
                });
            }
            return Err(TunError::Attach {
                name: name.to_string(),
                source,
            });
        }
        Ok(TunDevice {
            file,
            name: name.to_string(),
        })
    }

    /// The interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Reads one packet; `ErrorKind::WouldBlock` when none is waiting.
    pub fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&self.file).read(buf)
    }

    /// Sends one packet to the kernel.
    pub fn send(&self, packet: &[u8]) -> io::Result<()> {
        let n = (&self.file).write(packet)?;
        if n != packet.len() {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                format!("TUN write took {n} of {} bytes", packet.len()),
            ));
        }
        Ok(())
    }

    /// Adds `kernel_cidr` (the kernel's side, e.g. `192.0.2.1/24`) to the device and brings
    /// it up, in the network namespace `netns` (`None`: the current one). The kernel then
    /// routes the rest of that subnet into the device, where the engine answers.
    pub fn configure(&self, netns: Option<&str>, kernel_cidr: &str) -> Result<(), TunError> {
        run_ip(netns, &["addr", "add", kernel_cidr, "dev", &self.name])?;
        run_ip(netns, &["link", "set", &self.name, "up"])
    }

    /// Sets the MTU of the device.
    pub fn set_mtu(&self, netns: Option<&str>, mtu: u32) -> Result<(), TunError> {
        run_ip(netns, &["link", "set", &self.name, "mtu", &mtu.to_string()])
    }
}

impl AsRawFd for TunDevice {
    fn as_raw_fd(&self) -> RawFd {
        self.file.as_raw_fd()
    }
}

/// Runs `ip [-n netns] args..`, failing with its stderr.
pub fn run_ip(netns: Option<&str>, args: &[&str]) -> Result<(), TunError> {
    let mut full: Vec<&str> = Vec::new();
    if let Some(ns) = netns {
        full.extend(["-n", ns]);
    }
    full.extend_from_slice(args);
    let command = format!("ip {}", full.join(" "));
    let output = Command::new("ip")
        .args(&full)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| TunError::Command {
            command: command.clone(),
            detail: format!("cannot run `ip` (install iproute2): {e}"),
        })?;
    if output.status.success() {
        return Ok(());
    }
    Err(TunError::Command {
        command,
        detail: String::from_utf8_lossy(&output.stderr).trim().to_string(),
    })
}
