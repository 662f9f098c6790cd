//! Running code inside a network namespace without moving the process there.
//!
//! `setns(CLONE_NEWNET)` changes only the calling thread, and a socket or TUN device belongs
//! to the namespace it was created in, for good. So a fresh helper thread enters the
//! namespace, creates the socket or device, and hands it back; every other thread (the
//! event loop, the application) stays where it was. The main thread never enters: tools
//! that clean up a namespace kill the processes whose main thread is inside it.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::path::Path;

use crate::error::TunError;

/// Runs `f` on a new thread inside the network namespace at `ns_path`
/// (`/run/netns/NAME`) and returns its result.
pub fn in_netns<T, F>(ns_path: &Path, f: F) -> Result<T, TunError>
where
    T: Send,
    F: FnOnce() -> T + Send,
{
    let file = File::open(ns_path).map_err(|source| TunError::Netns {
        path: ns_path.display().to_string(),
        source,
    })?;
    std::thread::scope(|scope| {
        let handle = scope.spawn(move || {
            enter(&file).map_err(|source| TunError::Netns {
                path: ns_path.display().to_string(),
                source,
            })?;
            Ok(f())
        });
        handle
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// Spawns a long-lived thread inside the namespace (a kernel-side peer application).
pub fn spawn_in_netns<T, F>(
    ns_path: &Path,
    name: &str,
    f: F,
) -> Result<std::thread::JoinHandle<T>, TunError>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let file = File::open(ns_path).map_err(|source| TunError::Netns {
        path: ns_path.display().to_string(),
        source,
    })?;
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let handle = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            let entered = enter(&file);
            let ok = entered.is_ok();
            let _ = ready_tx.send(entered);
            assert!(ok, "thread could not enter the namespace");
            f()
        })
        .map_err(|e| TunError::io("spawning a thread", e))?;
    match ready_rx.recv() {
        Ok(Ok(())) => Ok(handle),
        Ok(Err(source)) => {
            let _ = handle.join();
            Err(TunError::Netns {
                path: ns_path.display().to_string(),
                source,
            })
        }
        Err(_) => Err(TunError::io(
            "entering a namespace",
            std::io::Error::other("helper thread died"),
        )),
    }
}

fn enter(file: &File) -> std::io::Result<()> {
    // SAFETY: the fd is an open namespace file; setns only changes this thread's namespace.
    let rc = unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
