//! `tcpwave doctor` and `tcpwave plan`: the operator's side of TCP connection lifecycles.
//!
//! * [`diagnose`] reads this host's (or a namespace's) sockets over netlink sock_diag — one
//!   dump per address family, filtered by state in the kernel, with timers, queues and
//!   `tcp_info` — maps them to processes through `/proc/PID/fd`, adds the kernel counters and
//!   sysctls, and answers the questions `ss` leaves open: who owns the CLOSE_WAITs, toward
//!   which endpoint, since when; how close TIME_WAIT is to exhausting ephemeral ports.
//! * [`watch`] samples repeatedly and reports growth per process and per destination.
//! * [`plan::compute`] is the capacity arithmetic (ports, TIME_WAIT, sustainable rate,
//!   conntrack) shared with the simulator's port-exhaustion scenario.
//!
//! The pipeline is `collect` (I/O, one [`Snapshot`]) → `analyze` (pure, a [`Report`]) →
//! `render` (text) or serde (JSON schema `tcpwave-doctor/1`, see docs/doctor.md).

pub mod analysis;
pub mod collect;
pub mod error;
pub mod filter;
pub mod findings;
pub mod kernel;
pub mod netlink;
pub mod owners;
pub mod plan;
pub mod procnet;
pub mod render;
pub mod report;
pub mod review;
pub mod socket;
pub mod synthetic;
mod table;
pub mod watch;

pub use collect::{collect, CollectOptions, Snapshot, Source, SourceChoice};
pub use error::DoctorError;
pub use filter::Filters;
pub use report::{Finding, Report, Severity};

/// What `tcpwave doctor` should look at.
#[derive(Clone, Debug)]
pub struct DoctorOptions {
    pub netns: Option<String>,
    pub filters: Filters,
    pub source: SourceChoice,
    /// Rows per table (groups beyond it are counted, not listed).
    pub top: usize,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        DoctorOptions {
            netns: None,
            filters: Filters::default(),
            source: SourceChoice::Auto,
            top: 10,
        }
    }
}

impl DoctorOptions {
    pub(crate) fn collect_options(&self) -> CollectOptions {
        CollectOptions {
            netns: self.netns.clone(),
            states_mask: self.filters.states_mask(),
            source: self.source,
            attribute: true,
        }
    }
}

/// One diagnosis: collect a snapshot and analyse it.
pub fn diagnose(options: &DoctorOptions) -> Result<Report, DoctorError> {
    let snapshot = collect(&options.collect_options())?;
    Ok(analysis::analyze(&snapshot, &options.filters, options.top))
}
