//! The command line's value forms: defined in [`crate::settings`] (below the drivers, which
//! run with them), re-exported here for the commands.

pub use crate::settings::*;
