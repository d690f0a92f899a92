//! The core's error is the ipc error: a stable code, one plain sentence, and a detail.
//! Keeping one type means nothing is lost or reworded between the core and the window.

pub use switchboard_ipc::{ErrorCode, ErrorInfo as Error};

pub type Result<T, E = Error> = std::result::Result<T, E>;
