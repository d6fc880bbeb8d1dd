//! Metric math: the common CloudWatch expressions over the series of other queries.
//!
//! `m1 + m2`, `m1 * 100 / m2`, `-m1`, `SUM([m1, m2])`, `AVG(…)`, `MIN(…)`, `MAX(…)`,
//! `RATE(m1)`, `FILL(m1, 0)`, `FILL(m1, REPEAT)`. Between two series an operator keeps
//! the timestamps both have (FILL first to keep the others); a division by zero or any
//! result that is not a finite number leaves the point out.

use std::collections::BTreeMap;

/// Points sorted by timestamp (epoch seconds).
pub type Points = Vec<(i64, f64)>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Scalar(f64),
    Series(Points),
    Array(Vec<Points>),
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Num(f64),
    Ref(String),
    Repeat,
    Neg(Box<Expr>),
    Bin(char, Box<Expr>, Box<Expr>),
    Call(String, Vec<Expr>),
    Array(Vec<Expr>),
}

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Expression(Expr);

const MAX_EXPRESSION_LEN: usize = 2048;
const MAX_DEPTH: usize = 64;

impl Expression {
    pub fn parse(text: &str) -> Result<Expression, String> {
        if text.len() > MAX_EXPRESSION_LEN {
            return Err(format!(
                "the expression is longer than {MAX_EXPRESSION_LEN} characters"
            ));
        }
        let tokens = lex(text)?;
        let mut p = Parser {
            tokens,
            at: 0,
            depth: 0,
        };
        let e = p.expr()?;
        if let Some(t) = p.tokens.get(p.at) {
            return Err(format!("unexpected {t:?} after the end of the expression"));
        }
        Ok(Expression(e))
    }

    /// The query ids the expression reads.
    pub fn references(&self) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Ref(r) => out.push(r.clone()),
                Expr::Neg(a) => walk(a, out),
                Expr::Bin(_, a, b) => {
                    walk(a, out);
                    walk(b, out);
                }
                Expr::Call(_, args) | Expr::Array(args) => args.iter().for_each(|a| walk(a, out)),
                Expr::Num(_) | Expr::Repeat => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.0, &mut out);
        out
    }

    /// Evaluates with `lookup` giving each referenced query's value; `grid` is the
    /// period timestamps of the request (for FILL and for a scalar result).
    pub fn eval(
        &self,
        lookup: &dyn Fn(&str) -> Option<Value>,
        grid: &[i64],
    ) -> Result<Value, String> {
        eval(&self.0, lookup, grid)
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Num(f64),
    Ident(String),
    Sym(char),
}

fn lex(text: &str) -> Result<Vec<Tok>, String> {
    let mut out = Vec::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
        } else if c.is_ascii_digit() || c == '.' {
            let s = i;
            while i < chars.len() && (chars[i].is_ascii_digit() || chars[i] == '.') {
                i += 1;
            }
            let n: String = chars[s..i].iter().collect();
            out.push(Tok::Num(
                n.parse().map_err(|_| format!("{n:?} is not a number"))?,
            ));
        } else if c.is_ascii_alphabetic() || c == '_' {
            let s = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            out.push(Tok::Ident(chars[s..i].iter().collect()));
        } else if "+-*/()[],".contains(c) {
            out.push(Tok::Sym(c));
            i += 1;
        } else {
            return Err(format!("unexpected character {c:?}"));
        }
    }
    Ok(out)
}

struct Parser {
    tokens: Vec<Tok>,
    at: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.tokens.get(self.at)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(&Tok::Sym(c)) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char) -> Result<(), String> {
        if self.eat(c) {
            Ok(())
        } else {
            Err(match self.peek() {
                Some(t) => format!("expected '{c}', found {t:?}"),
                None => format!("expected '{c}' at the end of the expression"),
            })
        }
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err("the expression is nested too deeply".into());
        }
        let mut left = self.term()?;
        loop {
            let op = if self.eat('+') {
                '+'
            } else if self.eat('-') {
                '-'
            } else {
                break;
            };
            let right = self.term()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        self.depth -= 1;
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut left = self.unary()?;
        loop {
            let op = if self.eat('*') {
                '*'
            } else if self.eat('/') {
                '/'
            } else {
                break;
            };
            let right = self.unary()?;
            left = Expr::Bin(op, Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Expr, String> {
        if self.eat('-') {
            self.depth += 1;
            if self.depth > MAX_DEPTH {
                return Err("the expression is nested too deeply".into());
            }
            let e = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Neg(Box::new(e)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.tokens.get(self.at).cloned() {
            Some(Tok::Num(n)) => {
                self.at += 1;
                Ok(Expr::Num(n))
            }
            Some(Tok::Sym('(')) => {
                self.at += 1;
                let e = self.expr()?;
                self.expect(')')?;
                Ok(e)
            }
            Some(Tok::Sym('[')) => {
                self.at += 1;
                let items = self.list(']')?;
                Ok(Expr::Array(items))
            }
            Some(Tok::Ident(name)) => {
                self.at += 1;
                if self.eat('(') {
                    let upper = name.to_ascii_uppercase();
                    if !["SUM", "AVG", "MIN", "MAX", "RATE", "FILL"].contains(&upper.as_str()) {
                        return Err(format!(
                            "unknown function {name}: this host knows SUM, AVG, MIN, MAX, RATE and FILL"
                        ));
                    }
                    let args = self.list(')')?;
                    Ok(Expr::Call(upper, args))
                } else if name == "REPEAT" {
                    Ok(Expr::Repeat)
                } else {
                    Ok(Expr::Ref(name))
                }
            }
            Some(t) => Err(format!("unexpected {t:?}")),
            None => Err("the expression ends too early".into()),
        }
    }

    fn list(&mut self, close: char) -> Result<Vec<Expr>, String> {
        let mut items = Vec::new();
        if self.eat(close) {
            return Ok(items);
        }
        loop {
            items.push(self.expr()?);
            if self.eat(close) {
                return Ok(items);
            }
            self.expect(',')?;
        }
    }
}

fn apply(op: char, a: f64, b: f64) -> Option<f64> {
    let r = match op {
        '+' => a + b,
        '-' => a - b,
        '*' => a * b,
        _ => {
            if b == 0.0 {
                return None;
            }
            a / b
        }
    };
    r.is_finite().then_some(r)
}

fn map(points: &Points, f: impl Fn(f64) -> Option<f64>) -> Points {
    points
        .iter()
        .filter_map(|(t, v)| f(*v).map(|r| (*t, r)))
        .collect()
}

fn zip(op: char, a: &Points, b: &Points) -> Points {
    let right: BTreeMap<i64, f64> = b.iter().copied().collect();
    a.iter()
        .filter_map(|(t, x)| {
            right
                .get(t)
                .and_then(|y| apply(op, *x, *y))
                .map(|r| (*t, r))
        })
        .collect()
}

fn binary(op: char, a: Value, b: Value) -> Result<Value, String> {
    Ok(match (a, b) {
        (Value::Scalar(x), Value::Scalar(y)) => {
            Value::Scalar(apply(op, x, y).ok_or("the result is not a finite number")?)
        }
        (Value::Series(s), Value::Scalar(y)) => Value::Series(map(&s, |x| apply(op, x, y))),
        (Value::Scalar(x), Value::Series(s)) => Value::Series(map(&s, |y| apply(op, x, y))),
        (Value::Series(a), Value::Series(b)) => Value::Series(zip(op, &a, &b)),
        (Value::Array(items), Value::Scalar(y)) => {
            Value::Array(items.iter().map(|s| map(s, |x| apply(op, x, y))).collect())
        }
        (Value::Scalar(x), Value::Array(items)) => {
            Value::Array(items.iter().map(|s| map(s, |y| apply(op, x, y))).collect())
        }
        (Value::Array(items), Value::Series(b)) => {
            Value::Array(items.iter().map(|s| zip(op, s, &b)).collect())
        }
        (Value::Series(a), Value::Array(items)) => {
            Value::Array(items.iter().map(|s| zip(op, &a, s)).collect())
        }
        (Value::Array(_), Value::Array(_)) => {
            return Err("an operator cannot take two arrays of time series".into());
        }
    })
}

/// SUM/AVG/MIN/MAX of numbers.
fn reduce(f: &str, values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    Some(match f {
        "SUM" => values.iter().sum(),
        "AVG" => values.iter().sum::<f64>() / values.len() as f64,
        "MIN" => values.iter().copied().fold(f64::INFINITY, f64::min),
        _ => values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
    })
}

fn series_list(v: Value) -> Result<Vec<Points>, String> {
    match v {
        Value::Series(s) => Ok(vec![s]),
        Value::Array(a) => Ok(a),
        Value::Scalar(_) => Err("expected a time series, found a number".into()),
    }
}

fn eval(e: &Expr, lookup: &dyn Fn(&str) -> Option<Value>, grid: &[i64]) -> Result<Value, String> {
    match e {
        Expr::Num(n) => Ok(Value::Scalar(*n)),
        Expr::Ref(r) => lookup(r).ok_or_else(|| format!("no query has the id {r}")),
        Expr::Repeat => Err("REPEAT is only an argument of FILL".into()),
        Expr::Neg(a) => binary('*', eval(a, lookup, grid)?, Value::Scalar(-1.0)),
        Expr::Bin(op, a, b) => binary(*op, eval(a, lookup, grid)?, eval(b, lookup, grid)?),
        Expr::Array(items) => {
            let mut out = Vec::new();
            for i in items {
                out.extend(series_list(eval(i, lookup, grid)?)?);
            }
            Ok(Value::Array(out))
        }
        Expr::Call(f, args) => call(f, args, lookup, grid),
    }
}

fn call(
    f: &str,
    args: &[Expr],
    lookup: &dyn Fn(&str) -> Option<Value>,
    grid: &[i64],
) -> Result<Value, String> {
    let arity = if f == "FILL" { 2 } else { 1 };
    if args.len() != arity {
        return Err(format!("{f} takes {arity} argument(s), not {}", args.len()));
    }
    match f {
        "SUM" | "AVG" | "MIN" | "MAX" => match eval(&args[0], lookup, grid)? {
            // One series: its values reduce to a number.
            Value::Series(s) => {
                let values: Vec<f64> = s.iter().map(|(_, v)| *v).collect();
                Ok(reduce(f, &values).map_or(Value::Series(Vec::new()), Value::Scalar))
            }
            // An array: one value per timestamp, over the series that have it.
            Value::Array(items) => {
                let mut at: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
                for s in &items {
                    for (t, v) in s {
                        at.entry(*t).or_default().push(*v);
                    }
                }
                Ok(Value::Series(
                    at.into_iter()
                        .filter_map(|(t, vs)| reduce(f, &vs).map(|r| (t, r)))
                        .collect(),
                ))
            }
            Value::Scalar(_) => Err(format!("{f} takes a time series or an array of them")),
        },
        "RATE" => {
            let items = series_list(eval(&args[0], lookup, grid)?)?;
            let rated: Vec<Points> = items
                .iter()
                .map(|s| {
                    s.windows(2)
                        .filter_map(|w| {
                            let dt = (w[1].0 - w[0].0) as f64;
                            apply('/', w[1].1 - w[0].1, dt).map(|r| (w[1].0, r))
                        })
                        .collect()
                })
                .collect();
            Ok(one_or_array(rated))
        }
        _ => {
            let items = series_list(eval(&args[0], lookup, grid)?)?;
            let with = match &args[1] {
                Expr::Repeat => None,
                other => match eval(other, lookup, grid)? {
                    Value::Scalar(n) => Some(n),
                    _ => return Err("FILL's second argument is a number or REPEAT".into()),
                },
            };
            let filled = items.iter().map(|s| fill(s, with, grid)).collect();
            Ok(one_or_array(filled))
        }
    }
}

fn one_or_array(mut items: Vec<Points>) -> Value {
    if items.len() == 1 {
        Value::Series(items.remove(0))
    } else {
        Value::Array(items)
    }
}

/// Missing grid points get `with`, or (REPEAT) the last value before them.
fn fill(s: &Points, with: Option<f64>, grid: &[i64]) -> Points {
    let have: BTreeMap<i64, f64> = s.iter().copied().collect();
    let mut last = None;
    let mut out = Vec::with_capacity(grid.len());
    for t in grid {
        match have.get(t) {
            Some(v) => {
                last = Some(*v);
                out.push((*t, *v));
            }
            None => {
                if let Some(v) = with.or(last) {
                    out.push((*t, v));
                }
            }
        }
    }
    // Points off the grid (there should be none) are kept.
    for (t, v) in s {
        if grid.binary_search(t).is_err() {
            out.push((*t, *v));
        }
    }
    out.sort_by_key(|(t, _)| *t);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(expr: &str) -> Result<Value, String> {
        let m1: Points = vec![(0, 1.0), (10, 2.0), (20, 4.0)];
        let m2: Points = vec![(0, 10.0), (20, 0.0), (30, 5.0)];
        let lookup = move |id: &str| match id {
            "m1" => Some(Value::Series(m1.clone())),
            "m2" => Some(Value::Series(m2.clone())),
            _ => None,
        };
        Expression::parse(expr)?.eval(&lookup, &[0, 10, 20, 30])
    }

    fn series(expr: &str) -> Points {
        match run(expr).unwrap() {
            Value::Series(s) => s,
            other => panic!("{expr}: {other:?}"),
        }
    }

    #[test]
    fn arithmetic_between_series_and_scalars() {
        assert_eq!(series("m1 + m2"), vec![(0, 11.0), (20, 4.0)]);
        assert_eq!(
            series("m1 * 100 / 2"),
            vec![(0, 50.0), (10, 100.0), (20, 200.0)]
        );
        assert_eq!(series("(m1 - 1) * 2"), vec![(0, 0.0), (10, 2.0), (20, 6.0)]);
        assert_eq!(series("-m1"), vec![(0, -1.0), (10, -2.0), (20, -4.0)]);
        // Division by zero leaves the point out.
        assert_eq!(series("m1 / m2"), vec![(0, 0.1)]);
        assert_eq!(run("2 * 3 + 1").unwrap(), Value::Scalar(7.0));
        assert_eq!(series("m1 + 2 * 3")[0], (0, 7.0), "precedence");
    }

    #[test]
    fn functions_over_arrays_and_series() {
        assert_eq!(
            series("SUM([m1, m2])"),
            vec![(0, 11.0), (10, 2.0), (20, 4.0), (30, 5.0)]
        );
        assert_eq!(
            series("MAX([m1, m2])"),
            vec![(0, 10.0), (10, 2.0), (20, 4.0), (30, 5.0)]
        );
        assert_eq!(series("MIN([m1, m2])")[2], (20, 0.0));
        assert_eq!(series("AVG([m1, m2])")[0], (0, 5.5));
        assert_eq!(run("AVG(m1)").unwrap(), Value::Scalar(7.0 / 3.0));
        assert_eq!(run("SUM(m1)").unwrap(), Value::Scalar(7.0));
        assert_eq!(series("RATE(m1)"), vec![(10, 0.1), (20, 0.2)]);
        assert_eq!(
            series("FILL(m1, 0)"),
            vec![(0, 1.0), (10, 2.0), (20, 4.0), (30, 0.0)]
        );
        assert_eq!(
            series("FILL(m2, REPEAT)"),
            vec![(0, 10.0), (10, 10.0), (20, 0.0), (30, 5.0)]
        );
        assert_eq!(series("FILL(m1, 0) + FILL(m2, 0)").len(), 4);
        match run("[m1, m2] * 2").unwrap() {
            Value::Array(a) => assert_eq!(a[1][0], (0, 20.0)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        for (expr, want) in [
            ("m1 +", "ends too early"),
            ("m1 m2", "after the end"),
            ("FOO(m1)", "unknown function FOO"),
            ("m3 * 2", "no query has the id m3"),
            ("FILL(m1)", "FILL takes 2"),
            ("[m1] + [m2]", "two arrays"),
            ("m1 $ 2", "unexpected character"),
            ("SUM(3)", "time series"),
            ("(((((m1", "expected ')'"),
        ] {
            let e = run(expr).unwrap_err();
            assert!(e.contains(want), "{expr}: {e}");
        }
        let deep = format!("{}m1{}", "(".repeat(200), ")".repeat(200));
        assert!(run(&deep).unwrap_err().contains("nested too deeply"));
        assert_eq!(
            Expression::parse("SUM([m1, e2]) / m3")
                .unwrap()
                .references(),
            ["m1", "e2", "m3"]
        );
    }
}
