//! Unit tests of the endpoints.
