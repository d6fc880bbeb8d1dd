//! `--since` / `--until`: an instant as RFC 3339, a UTC date, epoch seconds, or a time ago.

use time::format_description::well_known::Rfc3339;
use time::{Date, OffsetDateTime, macros::format_description};

/// Epoch milliseconds of `text`.
pub fn parse(text: &str) -> Result<i64, String> {
    parse_at(text, wasmgate::util::time::now_ms())
}

fn parse_at(text: &str, now_ms: i64) -> Result<i64, String> {
    let text = text.trim();
    if let Ok(t) = OffsetDateTime::parse(text, &Rfc3339) {
        return i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
            .map_err(|_| format!("{text:?}: out of range"));
    }
    if let Ok(d) = Date::parse(text, format_description!("[year]-[month]-[day]")) {
        return Ok(d.midnight().assume_utc().unix_timestamp() * 1000);
    }
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse::<i64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(|| format!("{text:?}: out of range"));
    }
    if let Ok(ago) = super::super::logs::since::parse(text) {
        let ago = i64::try_from(ago.as_millis()).unwrap_or(i64::MAX);
        return Ok(now_ms.saturating_sub(ago).max(0));
    }
    Err(format!(
        "{text:?}: expected RFC 3339 (2026-12-03T10:00:00Z), a date (2026-12-03), epoch \
         seconds, or a time ago (30m, 2h, 7d)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_form_and_a_clear_mistake() {
        assert_eq!(parse_at("2026-12-03T00:00:01Z", 0), Ok(1_796_256_001_000));
        assert_eq!(parse_at("2026-12-03", 0), Ok(1_796_256_000_000));
        assert_eq!(parse_at("1796256000", 0), Ok(1_796_256_000_000));
        assert_eq!(parse_at("2m", 1_000_000), Ok(880_000));
        let e = parse_at("yesterday", 0).unwrap_err();
        assert!(e.contains("RFC 3339"), "{e}");
    }
}
