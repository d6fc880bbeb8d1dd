//! Small helpers every layer uses; depends on nothing else in the crate.

pub mod inproc;
pub mod sync;
pub mod time;
