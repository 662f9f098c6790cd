//! One sample of everything the diagnosis needs, taken inside the right network namespace.
//!
//! With `--netns NAME` the sample is taken on a fresh thread that `setns(2)`s into
//! `/run/netns/NAME` first: network namespaces are per thread, the netlink socket belongs to
//! the namespace of the thread that opens it, and `/proc/thread-self/net` and `/proc/sys/net`
//! show the calling thread's namespace. The rest of the process is untouched.

use crate::error::{DoctorError, Result};
use crate::kernel::{self, Sockstat, Sysctls};
use crate::netlink;
use crate::owners::Owners;
use crate::procnet;
use crate::socket::{Socket, TcpState};
use rustc_hash::FxHashSet as HashSet;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Which socket table to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceChoice {
    /// Netlink sock_diag, falling back to /proc/net/tcp{,6} if it fails.
    #[default]
    Auto,
    /// Netlink only.
    Netlink,
    /// /proc/net/tcp{,6} only.
    Proc,
}

/// Where the socket table of a snapshot came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Netlink,
    Proc,
}

/// What to collect.
#[derive(Clone, Debug)]
pub struct CollectOptions {
    /// Name of a namespace in /run/netns, or None for this process's namespace.
    pub netns: Option<String>,
    /// sock_diag state mask (the kernel filters); LISTEN is always added.
    pub states_mask: u32,
    pub source: SourceChoice,
    /// Map sockets to processes through /proc/PID/fd.
    pub attribute: bool,
}

impl Default for CollectOptions {
    fn default() -> Self {
        CollectOptions {
            netns: None,
            states_mask: netlink::ALL_STATES_MASK,
            source: SourceChoice::Auto,
            attribute: true,
        }
    }
}

/// Everything read at one moment.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub sockets: Vec<Socket>,
    pub owners: Owners,
    pub counters: BTreeMap<String, u64>,
    pub sockstat: Sockstat,
    pub sysctls: Sysctls,
    pub source: Source,
    /// Why netlink was not used, when the /proc fallback was.
    pub fallback_reason: Option<String>,
    pub netns: Option<String>,
    /// Running with effective uid 0 (needed to attribute other users' sockets).
    pub root: bool,
    /// Time the collection took, milliseconds.
    pub collect_ms: f64,
}

/// Takes a snapshot, inside `options.netns` when given.
pub fn collect(options: &CollectOptions) -> Result<Snapshot> {
    let Some(name) = options.netns.as_deref() else {
        return collect_here(options);
    };
    let path = netns_path(name)?;
    // Open in the calling thread so that a missing namespace is reported before spawning.
    let file = File::open(&path).map_err(|err| match err.kind() {
        std::io::ErrorKind::NotFound => DoctorError::NetnsNotFound {
            name: name.to_string(),
            path: path.clone(),
        },
        std::io::ErrorKind::PermissionDenied => DoctorError::NetnsPermission {
            name: name.to_string(),
        },
        _ => DoctorError::NetnsEnter {
            name: name.to_string(),
            source: err,
        },
    })?;
    std::thread::scope(|scope| {
        let worker = scope.spawn(|| {
            enter_netns(&file, name)?;
            collect_here(options)
        });
        worker.join().unwrap_or(Err(DoctorError::CollectorPanicked))
    })
}

/// `/run/netns/<name>`, refusing names that would point elsewhere.
pub fn netns_path(name: &str) -> Result<PathBuf> {
    if name.is_empty() || name == "." || name == ".." || name.contains('/') || name.contains('\0') {
        return Err(DoctorError::NetnsInvalidName {
            name: name.to_string(),
        });
    }
    Ok(Path::new("/run/netns").join(name))
}

fn enter_netns(file: &File, name: &str) -> Result<()> {
    // SAFETY: setns(2) on a descriptor we own; it changes only this thread's namespace.
    let result = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if result == 0 {
        return Ok(());
    }
    let error = std::io::Error::last_os_error();
    if error.raw_os_error() == Some(libc::EPERM) {
        return Err(DoctorError::NetnsPermission {
            name: name.to_string(),
        });
    }
    Err(DoctorError::NetnsEnter {
        name: name.to_string(),
        source: error,
    })
}

fn collect_here(options: &CollectOptions) -> Result<Snapshot> {
    let started = Instant::now();
    let net_dir = Path::new("/proc/thread-self/net");
    let mask = options.states_mask | TcpState::Listen.mask_bit();
    let (sockets, source, fallback_reason) = read_sockets(net_dir, mask, options.source)?;
    let owners = if options.attribute {
        let wanted: HashSet<u64> = sockets
            .iter()
            .map(|s| s.inode)
            .filter(|i| *i != 0)
            .collect();
        Owners::scan(Path::new("/proc"), &wanted)
    } else {
        Owners::default()
    };
    let sockstat = std::fs::read_to_string(net_dir.join("sockstat"))
        .map(|text| kernel::parse_sockstat(&text))
        .unwrap_or_default();
    Ok(Snapshot {
        sockets,
        owners,
        counters: kernel::read_counters(net_dir),
        sockstat,
        sysctls: Sysctls::read(Path::new("/proc/sys")),
        source,
        fallback_reason,
        netns: options.netns.clone(),
        root: effective_uid_is_root(),
        collect_ms: started.elapsed().as_secs_f64() * 1000.0,
    })
}

type SocketRead = (Vec<Socket>, Source, Option<String>);

fn read_sockets(net_dir: &Path, mask: u32, choice: SourceChoice) -> Result<SocketRead> {
    match choice {
        SourceChoice::Netlink => Ok((netlink::dump(mask)?, Source::Netlink, None)),
        SourceChoice::Proc => Ok((procnet::read(net_dir, mask)?, Source::Proc, None)),
        SourceChoice::Auto => match netlink::dump(mask) {
            Ok(sockets) => Ok((sockets, Source::Netlink, None)),
            Err(netlink_error) => match procnet::read(net_dir, mask) {
                Ok(sockets) => Ok((sockets, Source::Proc, Some(netlink_error.to_string()))),
                Err(proc_error) => Err(DoctorError::NoSocketSource {
                    netlink: netlink_error.to_string(),
                    proc: proc_error.to_string(),
                }),
            },
        },
    }
}

fn effective_uid_is_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and has no side effects.
    unsafe { libc::geteuid() == 0 }
}
