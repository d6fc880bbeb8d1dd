//! SQLite backend of the state store (to be written).
