//! The README's runnable walkthroughs: fenced blocks whose info string is `console`. In
//! one, a line `$ command` is typed at a shell (a trailing `\` continues it on the next
//! line; a trailing `&` runs it in the background) and the lines after it, up to the next
//! `$`, are what it prints (stdout and stderr as a terminal shows them).
//!
//! Expected lines may hold placeholders for what changes from run to run:
//! - `<name>` (lowercase, digits, `-`) is any text; the first match binds it, later uses of
//!   the same name (in output and in commands) must be that text;
//! - `...` inside a line is any text; a line that is only `...` is any number of lines.

use regex::Regex;
use std::collections::HashMap;

/// How every line the host prints about itself starts.
const HOST_PREFIX: &str = "wasmgate: ";

/// One typed command and what the README shows it printing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub command: String,
    pub background: bool,
    pub expected: Vec<String>,
    /// 1-based line of the `$` in the file, for failure messages.
    pub line: usize,
}

/// Every step of every `console` block of a Markdown file, in order. A line of a console
/// block before its first `$` is an error: it would be checked against nothing.
pub fn parse(markdown: &str) -> Result<Vec<Step>, String> {
    let mut steps: Vec<Step> = Vec::new();
    let mut in_console = false;
    let mut in_other = false;
    let mut continuing = false;
    // The delimiter of a here-document being read into the last command.
    let mut heredoc: Option<String> = None;
    for (i, line) in markdown.lines().enumerate() {
        let n = i + 1;
        let fence = line.trim_start();
        if let Some(info) = fence.strip_prefix("```") {
            if in_console || in_other {
                in_console = false;
                in_other = false;
                continuing = false;
            } else if info.trim() == "console" {
                in_console = true;
            } else {
                in_other = true;
            }
            continue;
        }
        if !in_console {
            continue;
        }
        if let Some(end) = &heredoc {
            let Some(step) = steps.last_mut() else {
                return Err(format!("line {n}: a here-document without a command"));
            };
            step.command.push('\n');
            step.command.push_str(line);
            if line == end {
                heredoc = None;
            }
            continue;
        }
        if continuing {
            let Some(step) = steps.last_mut() else {
                return Err(format!("line {n}: a continuation without a command"));
            };
            step.command.push('\n');
            step.command.push_str(line);
            continuing = goes_on(&step.command);
            if !continuing {
                finish(step);
            }
            continue;
        }
        if let Some(cmd) = line.strip_prefix("$ ") {
            let mut step = Step {
                command: cmd.to_owned(),
                background: false,
                expected: Vec::new(),
                line: n,
            };
            continuing = goes_on(cmd);
            heredoc = heredoc_end(cmd);
            if !continuing {
                finish(&mut step);
            }
            steps.push(step);
        } else {
            match steps.last_mut() {
                Some(step) if in_console => step.expected.push(line.to_owned()),
                _ => {
                    return Err(format!(
                        "line {n}: output before the first `$ ` command of a console block"
                    ));
                }
            }
        }
    }
    Ok(steps)
}

/// Whether a command goes on on the next line: a trailing `\`, or a single-quoted string
/// left open (a JSON document written over several lines).
fn goes_on(command: &str) -> bool {
    command.ends_with('\\') || command.matches('\'').count() % 2 == 1
}

/// The delimiter of a here-document the command starts (`<<'END'`, `<<"END"`, `<<END`).
fn heredoc_end(command: &str) -> Option<String> {
    let rest = &command[command.find("<<")? + 2..];
    let word: String = rest
        .trim_start_matches('-')
        .trim_start()
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != ';')
        .filter(|c| *c != '\'' && *c != '"')
        .collect();
    (!word.is_empty()).then_some(word)
}

fn finish(step: &mut Step) {
    let trimmed = step.command.trim_end();
    if let Some(cmd) = trimmed.strip_suffix('&')
        && !cmd.ends_with('&')
    {
        step.command = cmd.trim_end().to_owned();
        step.background = true;
    }
}

/// Placeholder values bound so far.
#[derive(Debug, Default)]
pub struct Bindings(HashMap<String, String>);

fn placeholder() -> &'static Regex {
    static RE: std::sync::OnceLock<Regex> = std::sync::OnceLock::new();
    RE.get_or_init(|| Regex::new(r"<([a-z][a-z0-9-]*)>").expect("placeholder regex"))
}

impl Bindings {
    /// `command` with every bound `<name>` replaced by its value (unbound ones stay).
    pub fn fill(&self, command: &str) -> String {
        placeholder()
            .replace_all(command, |c: &regex::Captures| {
                self.0
                    .get(&c[1])
                    .cloned()
                    .unwrap_or_else(|| c[0].to_owned())
            })
            .into_owned()
    }

    /// The regex of one expected line, and the placeholder names of its groups.
    fn line_regex(&self, expected: &str) -> (Regex, Vec<String>) {
        let mut pattern = String::from("^");
        let mut names = Vec::new();
        let mut rest = expected;
        while !rest.is_empty() {
            let next_ph = placeholder().find(rest);
            let next_dots = rest.find("...");
            let literal_end = match (next_ph, next_dots) {
                (Some(p), Some(d)) => p.start().min(d),
                (Some(p), None) => p.start(),
                (None, Some(d)) => d,
                (None, None) => rest.len(),
            };
            pattern.push_str(&regex::escape(&rest[..literal_end]));
            rest = &rest[literal_end..];
            if rest.starts_with("...") {
                pattern.push_str(".*?");
                rest = &rest[3..];
            } else if let Some(m) = placeholder().find(rest).filter(|m| m.start() == 0) {
                let name = &rest[1..m.end() - 1];
                match self.0.get(name) {
                    Some(v) => pattern.push_str(&regex::escape(v)),
                    None => {
                        pattern.push_str("(.+?)");
                        names.push(name.to_owned());
                    }
                }
                rest = &rest[m.end()..];
            }
        }
        pattern.push('$');
        // Every piece was escaped or is one of the two fixed groups: it compiles.
        let re = Regex::new(&pattern).unwrap_or_else(|e| panic!("{pattern}: {e}"));
        (re, names)
    }

    /// Whether `actual` is one `expected` line; binds its new placeholders if so.
    pub fn line_matches(&mut self, expected: &str, actual: &str) -> bool {
        let (re, names) = self.line_regex(expected.trim_end());
        let Some(caps) = re.captures(actual.trim_end()) else {
            return false;
        };
        let mut new = Vec::new();
        for (i, name) in names.iter().enumerate() {
            let v = caps.get(i + 1).map_or("", |m| m.as_str()).to_owned();
            // A name used twice in one line must match the same text both times.
            if let Some((_, prev)) = new.iter().find(|(n, _): &&(String, String)| n == name)
                && *prev != v
            {
                return false;
            }
            new.push((name.clone(), v));
        }
        self.0.extend(new);
        true
    }

    /// Matches all of `actual` against `expected` (`...` lines skip any lines).
    pub fn matches(&mut self, expected: &[String], actual: &[String]) -> Result<(), String> {
        self.by_stream(expected, actual, false)
    }

    /// Matches the start of `actual` against `expected` (a background command's log, which
    /// goes on growing).
    pub fn matches_prefix(&mut self, expected: &[String], actual: &[String]) -> Result<(), String> {
        self.by_stream(expected, actual, true)
    }

    /// The host's own lines (`wasmgate: …`, on stderr) and everything else (the containers'
    /// output, on stdout) reach a terminal in an order that depends on timing: each is
    /// matched in its own order. A `...` line goes with the line before it.
    fn by_stream(
        &mut self,
        expected: &[String],
        actual: &[String],
        prefix: bool,
    ) -> Result<(), String> {
        let host = |l: &String| l.starts_with(HOST_PREFIX);
        let mut sides: [Vec<String>; 2] = [Vec::new(), Vec::new()];
        // A leading `...` goes with the first line that is not one.
        let mut last = expected
            .iter()
            .find(|l| l.trim() != "...")
            .map_or(0, |l| usize::from(!host(l)));
        for l in expected {
            if l.trim() != "..." {
                last = usize::from(!host(l));
            }
            sides[last].push(l.clone());
        }
        let real = |side: &Vec<String>| side.iter().any(|l| l.trim() != "...");
        if !sides.iter().all(real) {
            return self.match_from(expected, actual, prefix);
        }
        let (ours, theirs): (Vec<String>, Vec<String>) = actual.iter().cloned().partition(host);
        self.match_from(&sides[0], &ours, prefix)
            .map_err(|e| format!("(wasmgate's lines) {e}"))?;
        self.match_from(&sides[1], &theirs, prefix)
            .map_err(|e| format!("(the program's lines) {e}"))
    }

    /// Blank lines are not compared (the AWS CLI starts an error with one).
    fn match_from(
        &mut self,
        expected: &[String],
        actual: &[String],
        prefix: bool,
    ) -> Result<(), String> {
        let blank = |l: &&String| !l.trim().is_empty();
        let expected: Vec<String> = expected.iter().filter(blank).cloned().collect();
        let actual: Vec<String> = actual.iter().filter(blank).cloned().collect();
        let (mut e, mut a) = (0, 0);
        // Where a `...` line may resume: (expected index after it, actual index to retry,
        // the bindings made before it).
        let mut resume: Option<(usize, usize, HashMap<String, String>)> = None;
        loop {
            if e == expected.len() && (prefix || a == actual.len()) {
                return Ok(());
            }
            if e < expected.len() && expected[e].trim() == "..." {
                resume = Some((e + 1, a, self.0.clone()));
                e += 1;
                continue;
            }
            if e < expected.len() && a < actual.len() && self.line_matches(&expected[e], &actual[a])
            {
                e += 1;
                a += 1;
                continue;
            }
            // Mismatch: let the last `...` swallow one more line, or fail.
            match resume.as_mut() {
                Some((re, ra, before)) if *ra < actual.len() => {
                    *ra += 1;
                    e = *re;
                    a = *ra;
                    // Only the bindings made before the `...` hold.
                    self.0.clone_from(before);
                }
                _ => {
                    let want = expected.get(e).map_or("(end of output)", String::as_str);
                    let got = actual.get(a).map_or("(end of output)", String::as_str);
                    return Err(format!(
                        "line {} of the shown output does not match:\n  shown: {want}\n  \
                         got:   {got}",
                        e + 1
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(s: &str) -> Vec<String> {
        s.lines().map(str::to_owned).collect()
    }

    #[test]
    fn steps_continuations_background_and_other_blocks() {
        let md = "text\n```sh\n$ not run\n```\n```console\n$ a \\\n  --b\nout 1\nout 2\n$ serve &\nlistening\n```\n";
        let steps = parse(md).unwrap();
        assert_eq!(steps.len(), 2);
        assert_eq!(steps[0].command, "a \\\n  --b");
        assert_eq!(steps[0].expected, ["out 1", "out 2"]);
        assert_eq!(steps[0].line, 6);
        assert!(steps[1].background);
        assert_eq!(steps[1].command, "serve");
        assert!(parse("```console\nstray\n```\n").is_err());
        let steps = parse("```console\n$ put '{\n  \"a\": 1}'\nout\n```").unwrap();
        assert_eq!(steps[0].command, "put '{\n  \"a\": 1}'");
        assert_eq!(steps[0].expected, ["out"]);
        let steps =
            parse("```console\n$ cat > p.json <<'JSON'\n{\"a\": 1}\nJSON\n$ next\nout\n```")
                .unwrap();
        assert_eq!(steps[0].command, "cat > p.json <<'JSON'\n{\"a\": 1}\nJSON");
        assert!(steps[0].expected.is_empty());
        assert_eq!(steps[1].expected, ["out"]);
    }

    #[test]
    fn placeholders_bind_and_dots_skip() {
        let mut b = Bindings::default();
        let expected = lines("task <id> PENDING\n...\ntask <id> STOPPED (...)");
        let actual = lines("task 1a2b PENDING\nx\ny\ntask 1a2b STOPPED (done)");
        b.matches(&expected, &actual).unwrap();
        assert_eq!(b.fill("logs --task <id>"), "logs --task 1a2b");
        let mut b = Bindings::default();
        let actual = lines("task 1a2b PENDING\ntask 9999 STOPPED (done)");
        assert!(b.matches(&expected, &actual).is_err());
        let mut b = Bindings::default();
        assert!(
            b.matches(&lines("a"), &lines("a\nb")).is_err(),
            "extra output fails"
        );
        assert!(b.matches_prefix(&lines("a"), &lines("a\nb")).is_ok());
        // A placeholder bound between two `...` lines stays bound when the second one
        // has to skip lines.
        let mut b = Bindings::default();
        let shown = lines("...\naddress <ip>\n...\nready");
        b.matches(&shown, &lines("x\naddress 1.2.3.4\ny\nz\nready"))
            .unwrap();
        assert_eq!(b.fill("<ip>"), "1.2.3.4");
        assert!(b.matches(&lines("a.b"), &lines("axb")).is_err(), "escaped");
        // The host's lines and the program's are each in order, not with each other.
        let shown = lines("wasmgate: a\napp | 1\nwasmgate: b\napp | 2");
        let mut b = Bindings::default();
        b.matches(&shown, &lines("wasmgate: a\nwasmgate: b\napp | 1\napp | 2"))
            .unwrap();
        assert!(
            b.matches(&shown, &lines("wasmgate: b\nwasmgate: a\napp | 1\napp | 2"))
                .is_err()
        );
    }
}
