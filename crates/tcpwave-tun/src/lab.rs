//! A private lab: a fresh network namespace holding a TUN device, the kernel on
//! 192.0.2.1/24 and the engine answering as 192.0.2.2. Nothing leaves the namespace, and
//! dropping the lab deletes it (and every process inside), also when a test panics.

use std::net::Ipv4Addr;
use std::path::PathBuf;

use tcpwave_netns::Netns;

use crate::device::TunDevice;
use crate::error::{require_root, TunError};
use crate::kernel::{self, KernelSocket};
use crate::netns::{in_netns, spawn_in_netns};
use crate::runtime::{Stack, StackConfig};

/// The kernel's address inside the lab.
pub const KERNEL_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
/// The engine's address inside the lab.
pub const ENGINE_ADDR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
/// The TUN device's name inside the lab.
pub const TUN_NAME: &str = "tun0";

/// A namespace, its TUN device and the engine running on it.
pub struct Lab {
    // Field order is drop order: the engine stops before the namespace is deleted.
    stack: Stack,
    netns: Netns,
}

impl Lab {
    /// Creates the namespace `<prefix>-<pid>-<n>`, the device, and starts the engine with
    /// `cfg` (its `addr` is replaced by [`ENGINE_ADDR`]).
    pub fn create(prefix: &str, mut cfg: StackConfig) -> Result<Lab, TunError> {
        require_root("a TUN lab (network namespace + TUN device)")?;
        let netns = Netns::create(prefix).map_err(|e| TunError::io("creating a namespace", e))?;
        let device = in_netns(&netns.path(), || TunDevice::open(TUN_NAME))??;
        device.configure(Some(netns.name()), &format!("{KERNEL_ADDR}/24"))?;
        cfg.addr = ENGINE_ADDR;
        let stack = Stack::new(device, cfg)?;
        Ok(Lab { stack, netns })
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    /// The namespace's name (for `ip netns exec`, `ss -N`).
    pub fn netns_name(&self) -> &str {
        self.netns.name()
    }

    pub fn netns_path(&self) -> PathBuf {
        self.netns.path()
    }

    /// A command run inside the namespace (`ip netns exec NAME program args..`).
    pub fn exec<I, S>(&self, program: &str, args: I) -> std::process::Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.netns.exec(program, args)
    }

    /// Runs `f` on a helper thread inside the namespace: kernel sockets made there belong
    /// to the lab.
    pub fn in_kernel<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T, TunError> {
        in_netns(&self.netns.path(), f)
    }

    /// Starts a kernel-side application thread inside the namespace.
    pub fn spawn_kernel<T, F>(
        &self,
        name: &str,
        f: F,
    ) -> Result<std::thread::JoinHandle<T>, TunError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        spawn_in_netns(&self.netns.path(), name, f)
    }

    /// The kernel's TCP sockets in the lab, as `ss -tani` shows them.
    pub fn kernel_sockets(&self) -> Result<Vec<KernelSocket>, TunError> {
        kernel::ss(self.netns.name())
    }

    /// `tc qdisc add dev tun0 root netem loss P%`. `Ok(false)` when the kernel has no
    /// netem (then use the runtime's seeded loss instead).
    pub fn netem_loss(&self, percent: f64) -> Result<bool, TunError> {
        let loss = format!("{percent}%");
        let output = self
            .netns
            .exec(
                "tc",
                [
                    "qdisc", "add", "dev", TUN_NAME, "root", "netem", "loss", &loss,
                ],
            )
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| TunError::io("running tc", e))?;
        Ok(output.status.success())
    }
}

/// Opens (or creates) TUN device `tun` in the current namespace and starts the engine on
/// it; with `kernel_cidr`, first gives the device that address for the kernel's side and
/// brings it up. This is what `tcpwave serve` and `tcpwave connect` run, normally under
/// `ip netns exec NAME` so that nothing leaves that namespace.
pub fn open_stack(
    tun: &str,
    cfg: StackConfig,
    kernel_cidr: Option<&str>,
) -> Result<Stack, TunError> {
    let device = TunDevice::open(tun)?;
    if let Some(cidr) = kernel_cidr {
        device.configure(None, cidr)?;
    }
    Stack::new(device, cfg)
}
