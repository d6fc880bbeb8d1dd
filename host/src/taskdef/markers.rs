//! Typed stand-ins for ECS members that wasmgate accepts but does not keep, so every
//! member ECS defines is a field of the model and the compiler, not a list, knows them.
//!
//! Both skip their value with `deserialize_ignored_any`, which is what makes
//! `serde_ignored` report the member's path (see `ignored`), and both wrap that in a
//! newtype struct with a name of their own, which is how the schema probe (`schema`)
//! tells them apart. Neither is ever serialized (their fields use `skip_serializing`).

use std::fmt;

use serde::de::{Deserialize, Deserializer, IgnoredAny, Visitor};

/// Newtype names the schema probe recognises.
pub(super) const OUTPUT_ONLY: &str = "wasmgate::taskdef::OutputOnly";
pub(super) const UNSUPPORTED: &str = "wasmgate::taskdef::Unsupported";

/// A member ECS prints in describe output (ARN, revision, status, ...): accepted
/// silently and dropped, so `describe-task-definition` output can be fed back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputOnly;

/// A real ECS member wasmgate does not honour yet: dropped with a warning when set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unsupported;

impl<'de> Deserialize<'de> for OutputOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_newtype_struct(OUTPUT_ONLY, Skip)
            .map(|()| OutputOnly)
    }
}

impl<'de> Deserialize<'de> for Unsupported {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer
            .deserialize_newtype_struct(UNSUPPORTED, Skip)
            .map(|()| Unsupported)
    }
}

/// Accepts any JSON value without reading it.
struct Skip;

impl<'de> Visitor<'de> for Skip {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        IgnoredAny::deserialize(deserializer).map(|_| ())
    }
}
