//! CloudWatch "simple term" filter patterns, the subset `aws logs filter-log-events` and
//! `aws logs tail --filter-pattern` users reach for first. JSON (`{ $.x = 1 }`),
//! space-delimited (`[ip, user]`) and regex (`%re%`) patterns are rejected rather than
//! silently matching nothing.

use super::LogError;

/// Longest pattern the Logs model allows.
pub const MAX_PATTERN_LEN: usize = 1024;
const FIELD: &str = "filterPattern";

/// A parsed pattern: every `all` term, at least one `any` term (when there are any), and
/// no `none` term must occur in the message. Matching is case-sensitive substring search.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FilterPattern {
    all: Vec<String>,
    any: Vec<String>,
    none: Vec<String>,
}

impl FilterPattern {
    /// Parses `term "quoted phrase" ?alt ?"alt phrase" -excluded -"excluded phrase"`.
    pub fn parse(pattern: &str) -> Result<Self, LogError> {
        if pattern.chars().count() > MAX_PATTERN_LEN {
            return Err(LogError::invalid(FIELD, "must be at most 1024 characters"));
        }
        let trimmed = pattern.trim();
        if trimmed.starts_with(['{', '['])
            || (trimmed.len() > 1 && trimmed.starts_with('%') && trimmed.ends_with('%'))
        {
            return Err(LogError::invalid(
                FIELD,
                "only term patterns are supported (no JSON, space-delimited or regex patterns)",
            ));
        }
        let mut out = Self::default();
        let mut chars = trimmed.chars().peekable();
        loop {
            while chars.next_if(|c| c.is_whitespace()).is_some() {}
            let Some(&first) = chars.peek() else { break };
            let list = match first {
                '?' => &mut out.any,
                '-' => &mut out.none,
                _ => &mut out.all,
            };
            if matches!(first, '?' | '-') {
                chars.next();
            }
            let term = if chars.next_if_eq(&'"').is_some() {
                read_quoted(&mut chars)?
            } else {
                let mut t = String::new();
                while let Some(c) = chars.next_if(|c| !c.is_whitespace()) {
                    t.push(c);
                }
                t
            };
            if term.is_empty() {
                return Err(LogError::invalid(FIELD, "contains an empty term"));
            }
            list.push(term);
        }
        Ok(out)
    }

    /// True when the pattern matches every message (an empty pattern).
    pub fn is_match_all(&self) -> bool {
        self.all.is_empty() && self.any.is_empty() && self.none.is_empty()
    }

    pub fn matches(&self, message: &str) -> bool {
        self.all.iter().all(|t| message.contains(t.as_str()))
            && (self.any.is_empty() || self.any.iter().any(|t| message.contains(t.as_str())))
            && !self.none.iter().any(|t| message.contains(t.as_str()))
    }
}

/// Reads up to the closing quote; `\"` and `\\` escape.
fn read_quoted(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Result<String, LogError> {
    let mut term = String::new();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(term),
            '\\' => match chars.next() {
                Some(e @ ('"' | '\\')) => term.push(e),
                Some(other) => {
                    term.push('\\');
                    term.push(other);
                }
                None => break,
            },
            c => term.push(c),
        }
    }
    Err(LogError::invalid(FIELD, "has an unterminated quoted term"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, message: &str) -> bool {
        FilterPattern::parse(pattern)
            .unwrap_or_else(|e| panic!("{pattern}: {e}"))
            .matches(message)
    }

    #[test]
    fn empty_matches_all() {
        assert!(FilterPattern::parse("  ").is_ok_and(|p| p.is_match_all()));
        assert!(m("", "anything"));
    }

    #[test]
    fn all_terms_must_appear_case_sensitive() {
        assert!(m("ERROR db", "ERROR: db down"));
        assert!(!m("ERROR db", "ERROR: cache down"));
        assert!(!m("error", "ERROR"));
    }

    #[test]
    fn quoted_phrase_is_one_term() {
        assert!(m("\"db down\"", "ERROR: db down now"));
        assert!(!m("\"db down\"", "down db"));
        assert!(m(r#""say \"hi\"""#, r#"they say "hi" there"#));
    }

    #[test]
    fn alternatives_and_exclusions() {
        assert!(m("?ERROR ?WARN", "WARN low disk"));
        assert!(!m("?ERROR ?WARN", "INFO ok"));
        assert!(m("req -health", "req /api"));
        assert!(!m("req -health", "req /health"));
        assert!(!m("-\"GET /health\"", "GET /health 200"));
        assert!(m("?\"a b\" ?c", "xa bx"));
        assert!(m("req ?GET ?PUT -500", "req PUT 200"));
        assert!(!m("req ?GET ?PUT -500", "req PUT 500"));
    }

    #[test]
    fn rejects_unsupported_and_malformed() {
        for p in [
            "{ $.level = \"x\" }",
            "[ip, user]",
            "%ERR.*%",
            "\"open",
            "?",
            "a -",
            "\"\"",
        ] {
            assert!(
                matches!(
                    FilterPattern::parse(p),
                    Err(LogError::InvalidParameter {
                        field: "filterPattern",
                        ..
                    })
                ),
                "{p}"
            );
        }
        assert!(FilterPattern::parse(&"a".repeat(1025)).is_err());
    }
}
