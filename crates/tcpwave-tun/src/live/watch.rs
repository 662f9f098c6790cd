//! The timeline: engine events and segments from the stack's subscription, kernel states
//! from `ss` polled in the namespace, and notes from the kernel-side application.

use std::collections::BTreeMap;
use std::io::Write;
use std::sync::mpsc::{Receiver, Sender};
use std::time::{Duration, Instant};

use tcpwave::{Event, State};

use crate::error::TunError;
use crate::kernel::KernelSocket;
use crate::lab::Lab;
use crate::netstat;
use crate::signals;
use crate::trace::{format_at, Trace, TraceFormatter};

/// How often `ss` is run while watching.
const SS_PERIOD: Duration = Duration::from_millis(50);

/// Where the kernel application reports what it did, stamped with the stack's clock.
#[derive(Clone)]
pub struct Notes {
    tx: Sender<(Duration, String)>,
    stack: crate::runtime::Stack,
}

impl Notes {
    pub fn send(&self, note: impl Into<String>) {
        let _ = self.tx.send((self.stack.elapsed(), note.into()));
    }
}

/// Collects and prints both sides' states.
pub struct Watcher<'a> {
    lab: &'a Lab,
    traces: Receiver<Trace>,
    formatter: TraceFormatter,
    notes_tx: Sender<(Duration, String)>,
    notes: Receiver<(Duration, String)>,
    /// Kernel sockets last seen, by (local, peer).
    kernel: BTreeMap<(String, String), String>,
    /// Engine state changes seen, in order: (conn tuple text, from, to, reason).
    pub engine_changes: Vec<(String, State, State, &'static str)>,
    /// Kernel states seen, in order: (local, peer, ss state).
    pub kernel_seen: Vec<(String, String, String)>,
}

fn io(e: std::io::Error) -> TunError {
    TunError::io("writing the timeline", e)
}

impl<'a> Watcher<'a> {
    pub fn new(lab: &'a Lab, segments: bool) -> Watcher<'a> {
        let (notes_tx, notes) = std::sync::mpsc::channel();
        Watcher {
            lab,
            traces: lab.stack().subscribe(segments),
            formatter: TraceFormatter::new(),
            notes_tx,
            notes,
            kernel: BTreeMap::new(),
            engine_changes: Vec::new(),
            kernel_seen: Vec::new(),
        }
    }

    /// A sender for the kernel application's notes (`app: read EOF`, `app: close()`).
    pub fn notes(&self) -> Notes {
        Notes {
            tx: self.notes_tx.clone(),
            stack: self.lab.stack().clone(),
        }
    }

    /// Prints everything that happened since the last call, in time order: engine events
    /// and segments, the kernel application's notes, and the kernel's state changes.
    pub fn pump(&mut self, out: &mut dyn Write) -> Result<(), TunError> {
        let mut lines: Vec<(Duration, String)> = Vec::new();
        while let Ok((at, note)) = self.notes.try_recv() {
            lines.push((at, format!("{}  kernel  {note}", format_at(at))));
        }
        while let Ok(trace) = self.traces.try_recv() {
            let at = match &trace {
                Trace::Segment(s) => s.at,
                Trace::Event { at, event } => {
                    self.record(event);
                    *at
                }
                Trace::ConnectTimedOut { at, .. } => *at,
            };
            if let Some(line) = self.formatter.line(&trace) {
                lines.push((at, line));
            }
        }
        self.poll_kernel(&mut lines)?;
        lines.sort_by_key(|(at, _)| *at);
        for (_, line) in lines {
            writeln!(out, "{line}").map_err(io)?;
        }
        Ok(())
    }

    fn record(&mut self, event: &Event) {
        if let Event::StateChanged {
            tuple,
            from,
            to,
            reason,
            ..
        } = event
        {
            self.engine_changes
                .push((tuple.to_string(), *from, *to, reason.name()));
        }
    }

    fn poll_kernel(&mut self, lines: &mut Vec<(Duration, String)>) -> Result<(), TunError> {
        let at = self.lab.stack().elapsed();
        let sockets = self.lab.kernel_sockets()?;
        let mut now: BTreeMap<(String, String), String> = BTreeMap::new();
        for s in &sockets {
            now.insert((s.local.clone(), s.peer.clone()), s.state.clone());
        }
        let stamp = format_at(at);
        for (key, state) in &now {
            let before = self.kernel.get(key);
            if before != Some(state) {
                let from = before.map_or("(new)", String::as_str);
                let line = format!(
                    "{stamp}  kernel  {} <-> {}  {from} -> {state}   (ss)",
                    key.0, key.1
                );
                lines.push((at, line));
                self.kernel_seen
                    .push((key.0.clone(), key.1.clone(), state.clone()));
            }
        }
        for (key, state) in &self.kernel {
            if !now.contains_key(key) {
                let line = format!(
                    "{stamp}  kernel  {} <-> {}  {state} -> (gone)   (ss)",
                    key.0, key.1
                );
                lines.push((at, line));
            }
        }
        self.kernel = now;
        Ok(())
    }

    /// Keeps pumping for `duration`; fails with `Interrupted` on Ctrl-C.
    pub fn watch(&mut self, duration: Duration, out: &mut dyn Write) -> Result<(), TunError> {
        let started = Instant::now();
        loop {
            self.pump(out)?;
            if signals::interrupted() {
                return Err(TunError::Interrupted);
            }
            if started.elapsed() >= duration {
                return Ok(());
            }
            std::thread::sleep(SS_PERIOD.min(duration.saturating_sub(started.elapsed())));
        }
    }

    /// Pumps until `cond` holds or `limit` passes; returns whether it held.
    pub fn watch_until(
        &mut self,
        limit: Duration,
        out: &mut dyn Write,
        mut cond: impl FnMut(&Self) -> bool,
    ) -> Result<bool, TunError> {
        let started = Instant::now();
        loop {
            self.pump(out)?;
            if cond(self) {
                return Ok(true);
            }
            if signals::interrupted() {
                return Err(TunError::Interrupted);
            }
            if started.elapsed() >= limit {
                return Ok(false);
            }
            std::thread::sleep(SS_PERIOD);
        }
    }

    /// The kernel's state now for the socket whose peer is `peer` (the engine's address).
    pub fn kernel_state(&self, peer: &str) -> Option<&str> {
        self.kernel
            .iter()
            .find(|((_, p), _)| p == peer)
            .map(|(_, state)| state.as_str())
    }

    /// Whether the kernel socket with this peer was ever seen in `state`.
    pub fn kernel_saw(&self, peer: &str, state: &str) -> bool {
        self.kernel_seen
            .iter()
            .any(|(_, p, s)| p == peer && s == state)
    }

    /// Whether the engine connection `tuple` went `from` -> `to`.
    pub fn engine_went(&self, tuple: &str, from: State, to: State) -> bool {
        self.engine_changes
            .iter()
            .any(|(t, f, x, _)| t == tuple && *f == from && *x == to)
    }

    /// The kernel sockets last seen (not LISTEN).
    pub fn kernel_connections(&self) -> Vec<(String, String, String)> {
        self.kernel
            .iter()
            .filter(|(_, state)| state.as_str() != "LISTEN")
            .map(|((l, p), s)| (l.clone(), p.clone(), s.clone()))
            .collect()
    }

    /// Both sides now: the engine's netstat and the kernel's `ss`.
    pub fn summary(&self, out: &mut dyn Write) -> Result<(), TunError> {
        writeln!(out, "\nengine sockets (tcpwave netstat):").map_err(io)?;
        let engine = netstat::render_if_any(self.lab.stack());
        if engine.is_empty() {
            writeln!(out, "  (none)").map_err(io)?;
        }
        write!(out, "{engine}").map_err(io)?;
        writeln!(
            out,
            "kernel sockets (ss -tan in {}):",
            self.lab.netns_name()
        )
        .map_err(io)?;
        let sockets: Vec<KernelSocket> = self.lab.kernel_sockets()?;
        if sockets.is_empty() {
            writeln!(out, "  (none)").map_err(io)?;
        }
        for s in sockets {
            writeln!(out, "  {:<12} {:<22} {:<22}", s.state, s.local, s.peer).map_err(io)?;
        }
        writeln!(out).map_err(io)
    }
}
