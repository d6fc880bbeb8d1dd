//! Pagination tokens. They are opaque to clients but plain text inside: a kind tag plus
//! the sort key of the last item seen, so a page resumes exactly where the previous one
//! ended without server-side cursor state (and survives a host restart).

use super::LogError;

/// A point in a stream's or group's `(timestamp, id)` event order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct EventKey {
    pub ts: i64,
    pub id: i64,
}

impl EventKey {
    /// Before every real event (ids start at 1).
    pub const MIN: EventKey = EventKey {
        ts: i64::MIN,
        id: i64::MIN,
    };
    /// After every real event.
    pub const MAX: EventKey = EventKey {
        ts: i64::MAX,
        id: i64::MAX,
    };
}

/// A GetLogEvents token: read the events strictly after (forward) or strictly before
/// (backward) the key.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventToken {
    Forward(EventKey),
    Backward(EventKey),
}

impl EventToken {
    pub fn encode(self) -> String {
        match self {
            Self::Forward(k) => format!("f/{}/{}", k.ts, k.id),
            Self::Backward(k) => format!("b/{}/{}", k.ts, k.id),
        }
    }

    pub fn decode(token: &str) -> Result<Self, LogError> {
        match token.split_once('/') {
            Some(("f", rest)) => Ok(Self::Forward(parse_key(token, rest)?)),
            Some(("b", rest)) => Ok(Self::Backward(parse_key(token, rest)?)),
            _ => Err(LogError::InvalidToken(token.to_owned())),
        }
    }
}

/// FilterLogEvents token: resume strictly after this key.
pub(crate) fn encode_filter(key: EventKey) -> String {
    format!("p/{}/{}", key.ts, key.id)
}

pub(crate) fn decode_filter(token: &str) -> Result<EventKey, LogError> {
    match token.split_once('/') {
        Some(("p", rest)) => parse_key(token, rest),
        _ => Err(LogError::InvalidToken(token.to_owned())),
    }
}

/// DescribeLogGroups token: resume after this group name.
pub(crate) fn encode_group(name: &str) -> String {
    format!("g/{}", hex_encode(name))
}

pub(crate) fn decode_group(token: &str) -> Result<String, LogError> {
    match token.split_once('/') {
        Some(("g", hex)) => hex_decode(hex).ok_or_else(|| LogError::InvalidToken(token.into())),
        _ => Err(LogError::InvalidToken(token.to_owned())),
    }
}

/// DescribeLogStreams position: the sort key of the last stream returned. The order
/// (by name or by last event, ascending or not) is part of the token so a token is
/// never silently reused under a different order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StreamCursor {
    pub by_last_event: bool,
    pub descending: bool,
    pub last_event: i64,
    pub name: String,
}

impl StreamCursor {
    pub fn encode(&self) -> String {
        let order = if self.by_last_event { 't' } else { 'n' };
        let dir = if self.descending { 'd' } else { 'a' };
        format!(
            "s/{order}{dir}/{}/{}",
            self.last_event,
            hex_encode(&self.name)
        )
    }

    /// Decodes a token, which must have been issued for the same order.
    pub fn decode(token: &str, by_last_event: bool, descending: bool) -> Result<Self, LogError> {
        let bad = || LogError::InvalidToken(token.to_owned());
        let mut parts = token.splitn(4, '/');
        let (Some("s"), Some(mode), Some(ts), Some(hex)) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let expected = match (by_last_event, descending) {
            (false, false) => "na",
            (false, true) => "nd",
            (true, false) => "ta",
            (true, true) => "td",
        };
        if mode != expected {
            return Err(bad());
        }
        Ok(Self {
            by_last_event,
            descending,
            last_event: ts.parse().map_err(|_| bad())?,
            name: hex_decode(hex).ok_or_else(bad)?,
        })
    }
}

fn parse_key(token: &str, rest: &str) -> Result<EventKey, LogError> {
    let bad = || LogError::InvalidToken(token.to_owned());
    let (ts, id) = rest.split_once('/').ok_or_else(bad)?;
    Ok(EventKey {
        ts: ts.parse().map_err(|_| bad())?,
        id: id.parse().map_err(|_| bad())?,
    })
}

/// Names go into tokens hex-encoded so any stream name (which may hold `/` or spaces)
/// round-trips through a CLI argument unchanged.
fn hex_encode(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn hex_decode(s: &str) -> Option<String> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    let bytes = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_tokens_round_trip() {
        let k = EventKey { ts: -5, id: 42 };
        for t in [EventToken::Forward(k), EventToken::Backward(k)] {
            assert_eq!(EventToken::decode(&t.encode()).ok(), Some(t));
        }
        assert_eq!(decode_filter(&encode_filter(k)).ok(), Some(k));
        for bad in ["", "f", "f/1", "x/1/2", "f/a/2", "f/1/2/3", "p/1/2"] {
            assert!(EventToken::decode(bad).is_err(), "{bad}");
        }
        assert!(decode_filter("f/1/2").is_err());
    }

    #[test]
    fn name_tokens_round_trip() {
        let name = "ecs/web/ü x";
        assert_eq!(
            decode_group(&encode_group(name)).ok().as_deref(),
            Some(name)
        );
        assert!(decode_group("g/zz").is_err());
        assert!(decode_group("g/abc").is_err());
        let c = StreamCursor {
            by_last_event: true,
            descending: false,
            last_event: 7,
            name: name.into(),
        };
        assert_eq!(
            StreamCursor::decode(&c.encode(), true, false).ok(),
            Some(c.clone())
        );
        assert!(StreamCursor::decode(&c.encode(), true, true).is_err());
        assert!(StreamCursor::decode(&c.encode(), false, false).is_err());
    }
}
