//! One module per subcommand.

pub mod audit;
pub mod classify;
pub mod eval;
pub mod learn;
pub mod merge;
pub mod parse;
pub mod redact;
pub mod stats;
pub mod thresholds;
pub mod token;
pub mod train;
