//! Which process holds which socket: `/proc/PID/fd/*` links read `socket:[INODE]`.
//!
//! Pids are shared across network namespaces, so this works the same with `--netns`.
//! TIME_WAIT, orphaned and not-yet-accepted sockets have inode 0: no process holds them.
//! Another user's `/proc/PID/fd` is readable only by root; those pids are counted so the
//! report can say how much attribution is missing.

use rustc_hash::{FxHashMap as HashMap, FxHashSet as HashSet};
use serde::Serialize;
use std::path::Path;

/// A process that holds sockets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Process {
    pub pid: u32,
    /// `/proc/PID/comm` (the kernel truncates it to 15 bytes).
    pub command: String,
    /// `/proc/PID/cmdline`, arguments joined by spaces, cut to 200 bytes.
    pub cmdline: String,
}

/// The inode → process map for one moment.
#[derive(Clone, Debug, Default)]
pub struct Owners {
    by_inode: HashMap<u64, u32>,
    processes: HashMap<u32, Process>,
    /// Processes whose fd directory could not be read (permission denied).
    pub unreadable_pids: u32,
    /// Processes examined.
    pub scanned_pids: u32,
}

/// Longest cmdline kept, in bytes.
const CMDLINE_LEN_MAX: usize = 200;

impl Owners {
    /// Scans `<proc_root>/[0-9]*/fd` for the inodes in `wanted` (an empty set means none: no
    /// scan at all). When several processes share a socket (fork), the lowest pid wins.
    pub fn scan(proc_root: &Path, wanted: &HashSet<u64>) -> Owners {
        let mut owners = Owners::default();
        if wanted.is_empty() {
            return owners;
        }
        let Ok(entries) = std::fs::read_dir(proc_root) else {
            return owners;
        };
        let mut pids: Vec<u32> = entries
            .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
            .collect();
        pids.sort_unstable();
        for pid in pids {
            owners.scan_process(proc_root, pid, wanted);
        }
        owners
    }

    fn scan_process(&mut self, proc_root: &Path, pid: u32, wanted: &HashSet<u64>) {
        self.scanned_pids += 1;
        let process_dir = proc_root.join(pid.to_string());
        let fd_dir = process_dir.join("fd");
        let entries = match std::fs::read_dir(&fd_dir) {
            Ok(entries) => entries,
            Err(err) if err.kind() == std::io::ErrorKind::PermissionDenied => {
                self.unreadable_pids += 1;
                return;
            }
            Err(_) => return, // exited meanwhile, or a kernel thread
        };
        let mut found = false;
        for entry in entries.flatten() {
            let Ok(target) = std::fs::read_link(entry.path()) else {
                continue;
            };
            let Some(inode) = socket_inode(target.as_os_str().as_encoded_bytes()) else {
                continue;
            };
            if wanted.contains(&inode) {
                self.by_inode.entry(inode).or_insert(pid);
                found = true;
            }
        }
        if found {
            self.processes.insert(pid, read_process(&process_dir, pid));
        }
    }

    /// Records an owner directly (tests and synthetic benchmarks).
    pub fn insert(&mut self, inode: u64, process: Process) {
        self.by_inode.insert(inode, process.pid);
        self.processes.insert(process.pid, process);
    }

    /// The process holding the socket with this inode, if known.
    pub fn owner(&self, inode: u64) -> Option<&Process> {
        if inode == 0 {
            return None;
        }
        self.processes.get(self.by_inode.get(&inode)?)
    }

    /// The process with this pid, if it holds one of the wanted sockets.
    pub fn process(&self, pid: u32) -> Option<&Process> {
        self.processes.get(&pid)
    }

    /// Number of sockets attributed to a process.
    pub fn attributed(&self) -> usize {
        self.by_inode.len()
    }
}

/// `socket:[12345]` → 12345.
fn socket_inode(link: &[u8]) -> Option<u64> {
    let inner = link.strip_prefix(b"socket:[")?.strip_suffix(b"]")?;
    std::str::from_utf8(inner).ok()?.parse().ok()
}

fn read_process(process_dir: &Path, pid: u32) -> Process {
    let command = std::fs::read_to_string(process_dir.join("comm"))
        .map(|c| c.trim_end().to_string())
        .unwrap_or_default();
    let mut cmdline = std::fs::read(process_dir.join("cmdline"))
        .map(|raw| {
            let parts: Vec<String> = raw
                .split(|b| *b == 0)
                .filter(|p| !p.is_empty())
                .map(|p| String::from_utf8_lossy(p).into_owned())
                .collect();
            parts.join(" ")
        })
        .unwrap_or_default();
    if cmdline.len() > CMDLINE_LEN_MAX {
        let mut cut = CMDLINE_LEN_MAX;
        while !cmdline.is_char_boundary(cut) {
            cut -= 1;
        }
        cmdline.truncate(cut);
    }
    Process {
        pid,
        command,
        cmdline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::os::unix::fs::MetadataExt;

    #[test]
    fn socket_links_are_recognised() {
        assert_eq!(socket_inode(b"socket:[12345]"), Some(12345));
        assert_eq!(socket_inode(b"pipe:[12345]"), None);
        assert_eq!(socket_inode(b"/dev/null"), None);
        assert_eq!(socket_inode(b"socket:[x]"), None);
    }

    #[test]
    fn finds_this_process_as_owner_of_its_own_socket() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let fd = std::os::fd::AsRawFd::as_raw_fd(&listener);
        let inode = std::fs::metadata(format!("/proc/self/fd/{fd}"))
            .unwrap()
            .ino();
        let wanted: HashSet<u64> = [inode].into_iter().collect();
        let owners = Owners::scan(Path::new("/proc"), &wanted);
        let owner = owners.owner(inode).expect("own socket attributed");
        assert_eq!(owner.pid, std::process::id());
        assert!(!owner.command.is_empty());
        assert_eq!(owners.attributed(), 1);
        assert!(owners.owner(0).is_none());
    }

    #[test]
    fn empty_wanted_set_scans_nothing() {
        let owners = Owners::scan(Path::new("/proc"), &HashSet::default());
        assert_eq!(owners.scanned_pids, 0);
    }
}
