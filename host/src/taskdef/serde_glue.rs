//! Serde adapters for the places where ECS JSON is looser than plain derive:
//! task cpu/memory given as numbers or strings, and `null` meaning "absent".

use std::fmt;

use serde::Serializer;
use serde::de::{self, Deserialize, Deserializer, Visitor};

use super::units;

/// Task cpu: a number of units or an ECS cpu string. `null` counts as absent (0).
pub fn cpu<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let units = deserializer.deserialize_any(SizeVisitor {
        expecting: "cpu units as a number or a string like \"256\" or \"1 vCPU\"",
        parse: |text| units::parse_cpu(text).map(u64::from),
        max: u64::from(u32::MAX),
    })?;
    u32::try_from(units).map_err(|_| de::Error::custom("cpu is too large"))
}

/// Task memory: a number of MiB or an ECS memory string. `null` counts as absent (0).
pub fn memory<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    deserializer.deserialize_any(SizeVisitor {
        expecting: "MiB as a number or a string like \"512\" or \"2 GB\"",
        parse: units::parse_memory,
        max: u64::MAX,
    })
}

/// ECS prints task cpu and memory as strings ("256"); so do we.
pub fn as_string<S: Serializer, T: fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// Lists and maps sent as `null` by some SDKs mean empty, not an error.
pub fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Option::<T>::deserialize(deserializer).map(Option::unwrap_or_default)
}

struct SizeVisitor {
    expecting: &'static str,
    parse: fn(&str) -> Result<u64, String>,
    max: u64,
}

impl SizeVisitor {
    fn bounded<E: de::Error>(&self, value: u64) -> Result<u64, E> {
        if value > self.max {
            return Err(E::custom(format!("{value} is too large")));
        }
        Ok(value)
    }
}

impl Visitor<'_> for SizeVisitor {
    type Value = u64;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<u64, E> {
        self.bounded(value)
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<u64, E> {
        match u64::try_from(value) {
            Ok(value) => self.bounded(value),
            Err(_) => Err(E::invalid_value(de::Unexpected::Signed(value), &self)),
        }
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<u64, E> {
        // 256.0 is fine; 0.5 is not a whole number of units.
        if value.fract() == 0.0 && value >= 0.0 && value <= self.max as f64 {
            #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
            return Ok(value as u64);
        }
        Err(E::invalid_value(de::Unexpected::Float(value), &self))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<u64, E> {
        (self.parse)(value).map_err(E::custom)
    }

    fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
        Ok(0)
    }
}
