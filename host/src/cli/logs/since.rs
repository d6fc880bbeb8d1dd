//! `--since 10m`: a duration back from now, as `aws logs tail --since` and `docker logs
//! --since` take it.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Parses `<number><unit>` with unit `s`, `m`, `h`, `d` or `w`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let rule = || format!("{text:?}: expected a number and a unit s, m, h, d or w (e.g. 10m)");
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit()).ok_or_else(rule)?;
    let (n, unit) = text.split_at(split);
    let n: u64 = n.parse().map_err(|_| rule())?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 604_800,
        _ => return Err(rule()),
    };
    n.checked_mul(secs)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("{text:?}: too long ago"))
}

/// The epoch milliseconds `ago` before now (0 for anything before 1970).
pub fn start_ms(ago: Duration) -> i64 {
    SystemTime::now()
        .checked_sub(ago)
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_and_mistakes() {
        assert_eq!(parse("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse("2h"), Ok(Duration::from_secs(7200)));
        assert_eq!(parse("1d"), Ok(Duration::from_secs(86_400)));
        for bad in ["", "m", "10", "10 minutes", "-5m", "1.5h"] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains("expected a number and a unit"), "{bad}: {e}");
        }
        assert!(parse("99999999999999999999w").is_err());
    }
}
