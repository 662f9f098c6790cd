//! One file per subcommand.

pub mod doctor;
pub mod plan;
pub mod scenario;
