//! One module per subcommand.

pub mod classify;
pub mod eval;
pub mod parse;
pub mod stats;
pub mod train;
