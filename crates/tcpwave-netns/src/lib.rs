//! Test support for tcpwave: run privileged tests in throwaway Linux network namespaces.
//!
//! The project rule for tests that need root:
//!
//! ```no_run
//! #[test]
//! fn close_wait_is_attributed() {
//!     if !tcpwave_netns::privileged("close_wait_is_attributed") {
//!         return; // a LOUD "SKIPPED ..." line was printed to stderr
//!     }
//!     let ns = tcpwave_netns::Netns::create("cw").unwrap();
//!     ns.add_addr("lo", "192.0.2.1/24").unwrap();
//!     let out = ns.exec("ss", ["-tan"]).output().unwrap();
//!     assert!(out.status.success());
//! } // the namespace and every process still inside it are gone here, even on panic
//! ```
//!
//! [`privileged`] returns `false` (and says so on stderr) when the test cannot run: not root,
//! no `ip` command, or namespaces do not work. With `TCPWAVE_REQUIRE_PRIVILEGED=1` (CI sets
//! it) it panics instead, so a privileged test can never be skipped silently in CI.
//!
//! The crate uses only `std` and the `ip` command (iproute2), so that any crate's tests can
//! use it. Network safety: a [`Netns`] starts empty (only `lo`, brought up); tests put
//! documentation addresses (192.0.2.0/24, 198.51.100.0/24) inside it, and dropping the
//! [`Netns`] kills the processes inside it and deletes it.

use std::ffi::OsStr;
use std::io::{self, Write};
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

/// Environment variable that turns a skipped privileged test into a failure (CI sets it to 1).
pub const REQUIRE_PRIVILEGED_ENV: &str = "TCPWAVE_REQUIRE_PRIVILEGED";

/// Longest namespace name this crate makes (names are file names in /run/netns).
const NAME_LEN_MAX: usize = 48;
/// How many fresh names [`Netns::create`] tries when a name is already taken.
const CREATE_ATTEMPTS_MAX: u32 = 16;
/// Rounds of "list pids, kill them, wait" before a namespace is deleted anyway.
const KILL_ROUNDS_MAX: u32 = 50;
const KILL_ROUND_WAIT: Duration = Duration::from_millis(20);

static NEXT_ID: AtomicU32 = AtomicU32::new(0);

/// True when this test can use network namespaces: running as root, `ip` is installed, and a
/// namespace can be created and deleted. Otherwise prints a loud `SKIPPED <test>: ...` line to
/// stderr and returns false — or panics with that message when `TCPWAVE_REQUIRE_PRIVILEGED=1`.
pub fn privileged(test_name: &str) -> bool {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    let probe = PROBE.get_or_init(probe_privileges);
    match probe {
        Ok(()) => true,
        Err(reason) => {
            let require = std::env::var(REQUIRE_PRIVILEGED_ENV).is_ok_and(|v| v == "1");
            skip_or_panic(test_name, reason, require)
        }
    }
}

/// The message printed (or panicked with) when a privileged test cannot run.
pub fn skip_message(test_name: &str, reason: &str) -> String {
    format!(
        "SKIPPED {test_name}: needs root and network namespaces (run scripts/test as root) \
         [{reason}]"
    )
}

/// What [`privileged`] does once it knows the test cannot run: print the loud skip message
/// and return false, or panic when `require` (`TCPWAVE_REQUIRE_PRIVILEGED=1`) is set.
pub fn skip_or_panic(test_name: &str, reason: &str, require: bool) -> bool {
    let message = skip_message(test_name, reason);
    if require {
        panic!("{message} — and {REQUIRE_PRIVILEGED_ENV}=1 forbids skipping");
    }
    // Straight to the stderr handle, not eprintln!: libtest captures the macros' output of
    // passing tests, and a skip must never be silent.
    let banner = "!".repeat(72);
    let _ = writeln!(std::io::stderr(), "\n{banner}\n!!! {message}\n{banner}\n");
    false
}

fn probe_privileges() -> Result<(), String> {
    match effective_uid() {
        Some(0) => {}
        Some(uid) => return Err(format!("running as uid {uid}, not root")),
        None => return Err("cannot read the effective uid from /proc/self/status".into()),
    }
    match Command::new("ip")
        .arg("-V")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
    {
        Ok(status) if status.success() => {}
        Ok(status) => return Err(format!("`ip -V` failed: {status}")),
        Err(err) => return Err(format!("`ip` (iproute2) not runnable: {err}")),
    }
    Netns::create("tcpwave-probe")
        .map(drop)
        .map_err(|err| format!("cannot create a namespace: {err}"))
}

/// The effective uid of this process, from `/proc/self/status` (std has no geteuid).
pub fn effective_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// A network namespace that exists for as long as this value does.
///
/// Dropping it kills every process inside it (`ip netns pids` + SIGKILL) and deletes it.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

impl Netns {
    /// Creates a namespace named `<prefix>-<pid>-<counter>` (unique for this process; a name
    /// left over from a crashed run is skipped) and brings its `lo` up.
    ///
    /// `prefix` may hold ASCII letters, digits, `-` and `_`, at most 32 characters.
    pub fn create(prefix: &str) -> io::Result<Netns> {
        validate_prefix(prefix)?;
        let mut last_error = None;
        for _ in 0..CREATE_ATTEMPTS_MAX {
            let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
            let name = format!("{prefix}-{}-{id}", std::process::id());
            match run_ip(&["netns", "add", &name]) {
                Ok(()) => {
                    let netns = Netns { name };
                    netns.ip(&["link", "set", "lo", "up"])?;
                    return Ok(netns);
                }
                Err(err) if err.kind() == io::ErrorKind::AlreadyExists => last_error = Some(err),
                Err(err) => return Err(err),
            }
        }
        Err(last_error.unwrap_or_else(|| io::Error::other("no free namespace name")))
    }

    /// The namespace's name, as `ip netns` and `tcpwave doctor --netns` know it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `/run/netns/<name>`: the file to open for `setns(2)`.
    pub fn path(&self) -> PathBuf {
        PathBuf::from("/run/netns").join(&self.name)
    }

    /// A command that runs `program args..` inside the namespace (`ip netns exec`).
    pub fn exec<I, S>(&self, program: impl AsRef<OsStr>, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut command = Command::new("ip");
        command
            .args(["netns", "exec", &self.name])
            .arg(program)
            .args(args);
        command
    }

    /// Runs `ip -n <name> args..` and fails with its stderr when it fails.
    pub fn ip(&self, args: &[&str]) -> io::Result<()> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        run_ip(&full)
    }

    /// Adds an address (`192.0.2.1/24`) to a device of the namespace (`lo`, a dummy, a veth).
    pub fn add_addr(&self, dev: &str, cidr: &str) -> io::Result<()> {
        self.ip(&["addr", "add", cidr, "dev", dev])
    }

    /// Creates a dummy device inside the namespace and brings it up.
    pub fn add_dummy(&self, dev: &str) -> io::Result<()> {
        self.ip(&["link", "add", dev, "type", "dummy"])?;
        self.ip(&["link", "set", dev, "up"])
    }

    /// Connects this namespace to `peer` with a veth pair (`dev` here, `peer_dev` there) and
    /// brings both ends up. The pair disappears with either namespace.
    pub fn link_veth(&self, dev: &str, peer: &Netns, peer_dev: &str) -> io::Result<()> {
        self.ip(&[
            "link", "add", dev, "type", "veth", "peer", "name", peer_dev, "netns", &peer.name,
        ])?;
        self.ip(&["link", "set", dev, "up"])?;
        peer.ip(&["link", "set", peer_dev, "up"])
    }

    /// Pids of the processes whose network namespace is this one.
    pub fn pids(&self) -> io::Result<Vec<u32>> {
        let output = run_ip_output(&["netns", "pids", &self.name])?;
        let text = String::from_utf8_lossy(&output.stdout);
        Ok(text
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect())
    }

    fn kill_all(&self) {
        for _ in 0..KILL_ROUNDS_MAX {
            let pids = match self.pids() {
                Ok(pids) if !pids.is_empty() => pids,
                _ => return,
            };
            let mut kill = Command::new("kill");
            kill.arg("-KILL").args(pids.iter().map(u32::to_string));
            let _ = kill.stdout(Stdio::null()).stderr(Stdio::null()).status();
            std::thread::sleep(KILL_ROUND_WAIT);
        }
        eprintln!(
            "tcpwave-netns: processes still alive in {} after SIGKILL",
            self.name
        );
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        self.kill_all();
        if let Err(err) = run_ip(&["netns", "del", &self.name]) {
            eprintln!(
                "tcpwave-netns: could not delete namespace {}: {err}",
                self.name
            );
        }
    }
}

fn validate_prefix(prefix: &str) -> io::Result<()> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    if prefix.is_empty() || prefix.len() > NAME_LEN_MAX - 16 || !prefix.chars().all(allowed) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("namespace prefix {prefix:?}: use 1 to 32 of [A-Za-z0-9_-]"),
        ));
    }
    Ok(())
}

fn run_ip_output(args: &[&str]) -> io::Result<Output> {
    let output = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()?;
    if output.status.success() {
        return Ok(output);
    }
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_string();
    let kind = if stderr.contains("File exists") {
        io::ErrorKind::AlreadyExists
    } else if stderr.contains("Operation not permitted") || stderr.contains("Permission denied") {
        io::ErrorKind::PermissionDenied
    } else {
        io::ErrorKind::Other
    };
    Err(io::Error::new(
        kind,
        format!("`ip {}` failed: {stderr}", args.join(" ")),
    ))
}

fn run_ip(args: &[&str]) -> io::Result<()> {
    run_ip_output(args).map(drop)
}
