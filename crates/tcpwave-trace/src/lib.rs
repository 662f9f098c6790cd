//! A trace of one simulated (or live) run, and the renderers that turn it into what
//! people look at: the terminal sequence diagram, JSON, SVG, an HTML step-through
//! page and pcap captures.
//!
//! The trace is built from the engine's own events and the bytes it put on the wire,
//! so nothing is inferred twice. The data model is in [`model`]; its JSON form is
//! documented in docs/trace-format.md.

pub mod html;
pub mod model;
pub mod pcap;
pub mod svg;
pub mod terminal;

pub use model::*;
