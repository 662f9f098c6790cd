//! tcpwave-sim: a deterministic network simulator for the tcpwave engine, and the
//! named scenarios of shared/SCENARIOS.md built on it.
//!
//! Hosts run an `Endpoint` and an application; links add delay, jitter, loss,
//! duplication and reordering; rules script faults (drop the Nth matching segment,
//! delay one, partition, crash, restart, kill an application). All randomness comes
//! from one seed, the clock jumps to the next deadline, and a step cap bounds every run.

pub mod app;
pub mod net;
pub mod recorder;
pub mod rng;
pub mod scenarios;
pub mod sim;

pub use app::{app, App, AppCtx, Input};
pub use net::{LinkParams, Rule, RuleAction, SegView};
pub use sim::{Sim, SimError};
