//! Wildcard patterns (`*`, `?`) with policy variables (`${aws:username}`): compiled once
//! when a policy is parsed, matched without allocating unless the pattern holds a variable.

use std::borrow::Cow;

use super::ConditionKeys;

/// One unit of a pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Tok {
    Lit(char),
    /// `*`: any run of characters.
    Star,
    /// `?`: exactly one character.
    One,
    /// `${key}` or `${key, 'default'}`: resolved against the request's condition keys.
    Var(Box<Var>),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Var {
    key: String,
    default: Option<String>,
}

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Pattern {
    toks: Vec<Tok>,
    has_vars: bool,
}

impl Pattern {
    /// `wildcards`: `*` and `?` match (Action, Resource, the Like and Arn operators) or are
    /// plain characters (the Equals operators). `variables`: `${…}` is a policy variable
    /// (Version 2012-10-17) or plain text (2008-10-17).
    pub fn compile(text: &str, wildcards: bool, variables: bool) -> Self {
        let mut toks = Vec::with_capacity(text.len());
        let mut has_vars = false;
        let mut rest = text;
        while let Some(c) = rest.chars().next() {
            if variables
                && rest.starts_with("${")
                && let Some(end) = rest.find('}')
            {
                let inner = &rest[2..end];
                match inner.trim() {
                    // The escapes AWS defines for characters that are otherwise special.
                    "*" => toks.push(Tok::Lit('*')),
                    "?" => toks.push(Tok::Lit('?')),
                    "$" => toks.push(Tok::Lit('$')),
                    spec => {
                        toks.push(Tok::Var(Box::new(Var::parse(spec))));
                        has_vars = true;
                    }
                }
                rest = &rest[end + 1..];
                continue;
            }
            toks.push(match c {
                '*' if wildcards => Tok::Star,
                '?' if wildcards => Tok::One,
                c => Tok::Lit(c),
            });
            rest = &rest[c.len_utf8()..];
        }
        Self { toks, has_vars }
    }

    /// Whether the pattern starts with the literal `prefix` (ASCII case-insensitive).
    pub fn starts_with_literal(&self, prefix: &str) -> bool {
        let mut toks = self.toks.iter();
        prefix
            .chars()
            .all(|c| matches!(toks.next(), Some(Tok::Lit(l)) if l.eq_ignore_ascii_case(&c)))
    }

    /// Whether the pattern is the lone `*` (matches everything).
    pub fn is_any(&self) -> bool {
        matches!(self.toks.as_slice(), [Tok::Star])
    }

    /// The tokens with variables replaced by the keys' values; `None` when a variable has
    /// no value and no default (AWS: the element does not match).
    pub fn resolve<'a>(&'a self, keys: &ConditionKeys) -> Option<Cow<'a, [Tok]>> {
        if !self.has_vars {
            return Some(Cow::Borrowed(&self.toks));
        }
        let mut out = Vec::with_capacity(self.toks.len() + 16);
        for tok in &self.toks {
            match tok {
                Tok::Var(var) => {
                    let value = match keys.get(&var.key) {
                        Some([one]) => one.as_str(),
                        _ => var.default.as_deref()?,
                    };
                    out.extend(value.chars().map(Tok::Lit));
                }
                t => out.push(t.clone()),
            }
        }
        Some(Cow::Owned(out))
    }

    /// Matches `text` as a whole (`ci`: ASCII case-insensitive).
    pub fn matches(&self, text: &str, keys: &ConditionKeys, ci: bool) -> bool {
        self.resolve(keys).is_some_and(|t| glob(&t, text, ci))
    }

    /// Matches an ARN field by field (see [`arn_glob`]).
    pub fn matches_arn(&self, arn: &str, keys: &ConditionKeys) -> bool {
        self.resolve(keys).is_some_and(|t| arn_glob(&t, arn))
    }
}

impl Var {
    /// `aws:username` or `aws:username, 'default'`.
    fn parse(spec: &str) -> Self {
        match spec.split_once(',') {
            Some((key, default)) => {
                let default = default.trim();
                let default = default
                    .strip_prefix('\'')
                    .and_then(|d| d.strip_suffix('\''))
                    .unwrap_or(default);
                Self {
                    key: key.trim().to_owned(),
                    default: Some(default.to_owned()),
                }
            }
            None => Self {
                key: spec.to_owned(),
                default: None,
            },
        }
    }
}

fn same(a: char, b: char, ci: bool) -> bool {
    a == b || (ci && a.eq_ignore_ascii_case(&b))
}

/// Wildcard match of the whole `text`; `*` backtracks to the last star only (linear in
/// practice, never exponential).
pub(crate) fn glob(p: &[Tok], text: &str, ci: bool) -> bool {
    let (mut pi, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        let Some(c) = text[si..].chars().next() else {
            return p[pi..].iter().all(|t| matches!(t, Tok::Star));
        };
        match p.get(pi) {
            Some(Tok::Star) => {
                star = Some((pi, si));
                pi += 1;
                continue;
            }
            Some(Tok::One) => {
                pi += 1;
                si += c.len_utf8();
                continue;
            }
            Some(Tok::Lit(l)) if same(*l, c, ci) => {
                pi += 1;
                si += c.len_utf8();
                continue;
            }
            _ => {}
        }
        let Some((sp, ss)) = star else {
            return false;
        };
        // The last star takes one more character.
        let next = ss + text[ss..].chars().next().map_or(1, char::len_utf8);
        star = Some((sp, next));
        pi = sp + 1;
        si = next;
    }
}

/// ARN match as AWS does it: the five `:`-separated fields before the resource part
/// (`arn`, partition, service, region, account) are matched one by one, so a wildcard
/// does not reach across them; the resource part (which may hold colons) is matched as a
/// whole. A pattern without any `:` is matched as plain text; otherwise both sides must
/// be six-field ARNs.
pub(crate) fn arn_glob(p: &[Tok], arn: &str) -> bool {
    let mut cuts = [0usize; 5];
    let mut n = 0;
    for (i, t) in p.iter().enumerate() {
        if n == 5 {
            break;
        }
        if *t == Tok::Lit(':') {
            cuts[n] = i;
            n += 1;
        }
    }
    let mut parts = arn.splitn(6, ':');
    let text: [Option<&str>; 6] = std::array::from_fn(|_| parts.next());
    if n == 0 {
        // No field separators in the pattern (`*`, `arn*`): plain text.
        return glob(p, arn, false);
    }
    if n < 5 || text[5].is_none() {
        // An ARN pattern only matches a whole ARN.
        return false;
    }
    let mut start = 0;
    for (k, field) in text.iter().enumerate() {
        let end = if k < 5 { cuts[k] } else { p.len() };
        if !glob(&p[start..end], field.unwrap_or(""), false) {
            return false;
        }
        start = end + 1;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, t: &str) -> bool {
        Pattern::compile(p, true, true).matches(t, &ConditionKeys::new(), false)
    }

    fn arn(p: &str, t: &str) -> bool {
        Pattern::compile(p, true, true).matches_arn(t, &ConditionKeys::new())
    }

    #[test]
    fn wildcards_match_runs_and_single_characters() {
        assert!(m("*", ""));
        assert!(m("*", "anything"));
        assert!(m("Run*", "RunTask"));
        assert!(m("*Task", "RunTask"));
        assert!(m("R?nTask", "RunTask"));
        assert!(!m("R?nTask", "RnTask"));
        assert!(m("a*b*c", "aXXbYYbZc"));
        assert!(!m("a*b*c", "aXXbYYbZ"));
        assert!(m("é?", "éü"));
        assert!(!m("Run", "RunTask"));
    }

    #[test]
    fn case_insensitive_match_is_ascii() {
        let p = Pattern::compile("ecs:run*", true, false);
        assert!(p.matches("ECS:RunTask", &ConditionKeys::new(), true));
        assert!(!p.matches("ECS:RunTask", &ConditionKeys::new(), false));
    }

    #[test]
    fn arn_wildcards_stay_within_their_field() {
        assert!(arn(
            "arn:aws:ecs:*:*:task/*",
            "arn:aws:ecs:us-east-1:000000000000:task/a/b"
        ));
        // A star in the region field does not swallow the account field.
        assert!(!arn(
            "arn:aws:ecs:us-*",
            "arn:aws:ecs:us-east-1:000000000000:cluster/a"
        ));
        assert!(arn(
            "arn:aws:ecs:*:*:*",
            "arn:aws:ecs:us-east-1:000000000000:cluster/a"
        ));
        // The resource part may hold colons: a star there crosses them.
        assert!(arn(
            "arn:aws:logs:*:*:log-group:/ecs/web:*",
            "arn:aws:logs:us-east-1:000000000000:log-group:/ecs/web:log-stream:s1"
        ));
        assert!(arn("*", "arn:aws:ecs:us-east-1:000000000000:cluster/a"));
        assert!(!arn("arn:aws:ecs:*:*:cluster/a", "*"));
        assert!(arn("*", "*"));
    }

    #[test]
    fn variables_resolve_from_the_keys() {
        let mut keys = ConditionKeys::new();
        keys.insert("aws:username", "alice");
        let p = Pattern::compile("arn:aws:iam::*:user/${aws:username}", true, true);
        assert!(p.matches_arn("arn:aws:iam::000000000000:user/alice", &keys));
        assert!(!p.matches_arn("arn:aws:iam::000000000000:user/bob", &keys));
        // Unresolved: no match.
        assert!(!p.matches_arn(
            "arn:aws:iam::000000000000:user/alice",
            &ConditionKeys::new()
        ));
        // Default value.
        let p = Pattern::compile("home/${aws:username, 'nobody'}/*", true, true);
        assert!(p.matches("home/nobody/x", &ConditionKeys::new(), false));
        assert!(p.matches("home/alice/x", &keys, false));
        // Escapes are literal characters.
        let p = Pattern::compile("a${*}b${?}${$}", true, true);
        assert!(p.matches("a*b?$", &keys, false));
        assert!(!p.matches("aXb?$", &keys, false));
        // Without variables (2008-10-17) the text is literal.
        let p = Pattern::compile("${aws:username}", false, false);
        assert!(p.matches("${aws:username}", &keys, false));
    }
}
