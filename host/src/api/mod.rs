//! The HTTP front end: AWS JSON 1.1 over one listener, SigV4-verified.

pub mod service;
