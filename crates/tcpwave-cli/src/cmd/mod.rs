//! One file per subcommand.

pub mod connect;
pub mod doctor;
pub mod live;
pub mod output;
pub mod plan;
pub mod scenario;
pub mod serve;
