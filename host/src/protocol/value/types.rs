//! The two member types whose wire form depends on the protocol: timestamps and blobs.
//!
//! Both read from whatever the wire has (epoch seconds, ISO 8601, HTTP dates; base64 text
//! or raw bytes), so they work with any deserializer, `serde_json`'s included. They write
//! through [`to_node`](super::to_node) as [`Node::Time`](super::Node::Time) and
//! [`Node::Bytes`](super::Node::Bytes), which each codec renders its own way.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use time::format_description::well_known::{Rfc2822, Rfc3339};
use time::macros::format_description;
use time::{OffsetDateTime, UtcOffset};

/// The newtype name by which [`to_node`](super::to_node) recognises a timestamp.
pub(crate) const TIMESTAMP_NAME: &str = "$wasmgate::protocol::Timestamp";

/// A point in time, as AWS models `timestamp` members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub OffsetDateTime);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc())
    }

    /// Seconds since the epoch (with a fraction), `None` outside the representable years.
    pub fn from_epoch_seconds(secs: f64) -> Option<Self> {
        if !secs.is_finite() || secs.abs() > 1e15 {
            return None;
        }
        // Whole seconds and the fraction apart: the product with 1e9 would lose the
        // fraction's last digits. An f64 holds today's epoch to about a quarter of a
        // microsecond, so the fraction is rounded to microseconds.
        let whole = secs.floor();
        let micros = ((secs - whole) * 1e6).round() as i64;
        let t = OffsetDateTime::from_unix_timestamp(whole as i64).ok()?;
        t.checked_add(time::Duration::microseconds(micros))
            .map(Self)
    }

    pub fn epoch_seconds(&self) -> f64 {
        self.0.unix_timestamp() as f64 + f64::from(self.0.nanosecond()) / 1e9
    }

    /// ISO 8601 in UTC, with milliseconds when there are any: `2024-05-01T12:00:00.250Z`.
    pub fn to_iso8601(&self) -> String {
        let t = self.0.to_offset(UtcOffset::UTC);
        let whole = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]");
        let base = t.format(&whole).unwrap_or_default();
        let millis = t.millisecond();
        if millis == 0 {
            format!("{base}Z")
        } else {
            format!("{base}.{millis:03}Z")
        }
    }

    /// Reads the forms AWS clients send: ISO 8601 / RFC 3339 (query strings, awsQuery,
    /// members marked `iso8601`), an HTTP date (headers), or epoch seconds as text.
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<f64>() {
            return Self::from_epoch_seconds(secs);
        }
        if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
            return Some(Self(t));
        }
        // RFC 3339 without an offset means UTC for AWS (`2024-05-01T12:00:00`).
        if let Ok(t) = OffsetDateTime::parse(&format!("{text}Z"), &Rfc3339) {
            return Some(Self(t));
        }
        // HTTP dates end in `GMT`, which RFC 2822 spells `+0000`.
        let http = text.strip_suffix("GMT").map(|t| format!("{t}+0000"));
        OffsetDateTime::parse(http.as_deref().unwrap_or(text), &Rfc2822)
            .ok()
            .map(Self)
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        // Epoch seconds inside a marked newtype: plain serde_json writes the number (what
        // AWS JSON wants); `to_node` sees the name and keeps it a timestamp.
        s.serialize_newtype_struct(TIMESTAMP_NAME, &self.epoch_seconds())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(TimestampVisitor)
    }
}

struct TimestampVisitor;

impl<'de> Visitor<'de> for TimestampVisitor {
    type Value = Timestamp;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a timestamp (epoch seconds or ISO 8601)")
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Timestamp, E> {
        Timestamp::from_epoch_seconds(v)
            .ok_or_else(|| E::invalid_value(de::Unexpected::Float(v), &self))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Timestamp, E> {
        OffsetDateTime::from_unix_timestamp(v)
            .map(Timestamp)
            .map_err(|_| E::invalid_value(de::Unexpected::Signed(v), &self))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Timestamp, E> {
        i64::try_from(v)
            .map_err(|_| E::invalid_value(de::Unexpected::Unsigned(v), &self))
            .and_then(|v| self.visit_i64(v))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Timestamp, E> {
        Timestamp::parse(v).ok_or_else(|| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Timestamp, D::Error> {
        d.deserialize_any(self)
    }
}

/// Binary data, as AWS models `blob` members: base64 text in JSON and XML, a byte string
/// in CBOR.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Blob(pub Vec<u8>);

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Blob({} bytes)", self.0.len())
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Self {
        Self(v)
    }
}

impl Serialize for Blob {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(BlobVisitor)
    }
}

struct BlobVisitor;

impl<'de> Visitor<'de> for BlobVisitor {
    type Value = Blob;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("base64-encoded bytes")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Blob, E> {
        BASE64
            .decode(v.trim())
            .map(Blob)
            .map_err(|_| E::invalid_value(de::Unexpected::Str(v), &self))
    }

    fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Blob, E> {
        Ok(Blob(v.to_vec()))
    }

    fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Blob, E> {
        Ok(Blob(v))
    }
}

/// Standard base64, as AWS encodes blobs in text protocols.
pub(crate) fn base64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_read_every_wire_form() {
        let t = Timestamp::parse("2024-05-01T12:00:00Z").unwrap();
        assert_eq!(t.epoch_seconds(), 1_714_564_800.0);
        assert_eq!(
            Timestamp::parse("2024-05-01T12:00:00.250000Z")
                .unwrap()
                .to_iso8601(),
            "2024-05-01T12:00:00.250Z"
        );
        assert_eq!(Timestamp::parse("2024-05-01T12:00:00").unwrap(), t);
        assert_eq!(Timestamp::parse("1714564800").unwrap(), t);
        assert_eq!(
            Timestamp::parse("Wed, 01 May 2024 12:00:00 GMT").unwrap(),
            t
        );
        assert_eq!(t.to_iso8601(), "2024-05-01T12:00:00Z");
        assert!(Timestamp::parse("yesterday").is_none());
        assert!(Timestamp::from_epoch_seconds(f64::NAN).is_none());
        assert!(Timestamp::from_epoch_seconds(1e30).is_none());
        // botocore 1.44 sends sub-second epoch floats: microseconds survive the f64.
        let micro = Timestamp::from_epoch_seconds(1_714_564_800.123_456).unwrap();
        assert_eq!(micro.0.microsecond(), 123_456);
        assert_eq!(micro.epoch_seconds(), 1_714_564_800.123_456);
        let j: Timestamp = serde_json::from_str("1714564800.5").unwrap();
        assert_eq!(j.to_iso8601(), "2024-05-01T12:00:00.500Z");
        assert_eq!(serde_json::to_string(&t).unwrap(), "1714564800.0");
    }

    #[test]
    fn blobs_read_base64_or_bytes() {
        let b: Blob = serde_json::from_str("\"aGk=\"").unwrap();
        assert_eq!(b.0, b"hi");
        let e = serde_json::from_str::<Blob>("\"!!\"").unwrap_err();
        assert!(e.to_string().contains("base64"), "{e}");
        assert_eq!(base64(b"hi"), "aGk=");
    }
}
