//! Timestamps as the metadata endpoint prints them: RFC 3339 in UTC with the fraction
//! (`2020-10-08T20:09:11.44527186Z`).

use std::time::SystemTime;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn iso8601(t: SystemTime) -> String {
    OffsetDateTime::from(t)
        .format(&Rfc3339)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".into())
}
