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
use crate::trace::{format_at, format_event, format_segment, Trace};

/// How often `ss` is run while watching.
const SS_PERIOD: Duration = Duration::from_millis(50);

/// Collects and prints both sides' states.
pub struct Watcher<'a> {
    lab: &'a Lab,
    traces: Receiver<Trace>,
    notes_tx: Sender<String>,
    notes: Receiver<String>,
    /// Kernel sockets last seen, by (local, peer).
    kernel: BTreeMap<(String, String), String>,
    /// Engine state changes seen, in order: (conn tuple text, from, to, reason).
    pub engine_changes: Vec<(String, State, State, &'static str)>,
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
            notes_tx,
            notes,
            kernel: BTreeMap::new(),
            engine_changes: Vec::new(),
        }
    }

    /// A sender for the kernel application's notes (`app: read EOF`, `app: close()`).
    pub fn notes(&self) -> Sender<String> {
        self.notes_tx.clone()
    }

    /// Prints everything that happened since the last call, and the kernel's state changes.
    pub fn pump(&mut self, out: &mut dyn Write) -> Result<(), TunError> {
        let at = self.lab.stack().elapsed();
        while let Ok(note) = self.notes.try_recv() {
            writeln!(out, "{}  kernel  {note}", format_at(at)).map_err(io)?;
        }
        while let Ok(trace) = self.traces.try_recv() {
            let line = match &trace {
                Trace::Segment(s) => Some(format_segment(s)),
                Trace::Event { at, event } => {
                    self.record(event);
                    format_event(*at, event)
                }
            };
            if let Some(line) = line {
                writeln!(out, "{line}").map_err(io)?;
            }
        }
        self.poll_kernel(out)
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

    fn poll_kernel(&mut self, out: &mut dyn Write) -> Result<(), TunError> {
        let at = format_at(self.lab.stack().elapsed());
        let sockets = self.lab.kernel_sockets()?;
        let mut now: BTreeMap<(String, String), String> = BTreeMap::new();
        for s in &sockets {
            now.insert((s.local.clone(), s.peer.clone()), s.state.clone());
        }
        for (key, state) in &now {
            let before = self.kernel.get(key);
            if before != Some(state) {
                let from = before.map_or("(new)", String::as_str);
                writeln!(
                    out,
                    "{at}  kernel  {} <-> {}  {from} -> {state}   (ss)",
                    key.0, key.1
                )
                .map_err(io)?;
            }
        }
        for (key, state) in &self.kernel {
            if !now.contains_key(key) {
                writeln!(
                    out,
                    "{at}  kernel  {} <-> {}  {state} -> (gone)   (ss)",
                    key.0, key.1
                )
                .map_err(io)?;
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
        write!(out, "{}", netstat::render(self.lab.stack())).map_err(io)?;
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
