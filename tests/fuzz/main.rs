//! Fuzzing the parsers that take input from users and clients: the task-definition parser,
//! the SigV4 verifier (headers, URI, body) and OCI image references (and, as they land, the
//! API's request decoders). Each target must never panic, whatever the bytes.
//!
//! Inputs are mutations of a seed corpus checked in under `tests/fuzz/corpus/<target>/`
//! (bit flips, inserted and deleted runs, tokens from a dictionary, splices of two seeds),
//! generated and shrunk by proptest. A failure prints the smallest input found and is
//! recorded in `tests/fuzz/proptest-regressions/` so it is replayed on every later run.
//!
//! CI runs a bounded number of cases per target (seconds); run longer by hand with
//! `PROPTEST_CASES=200000 cargo test --release --test fuzz`.

use proptest::prelude::*;
use proptest::test_runner::{Config, FileFailurePersistence, RngAlgorithm, TestRng, TestRunner};
use std::path::Path;

/// Cases per target when `PROPTEST_CASES` is not set: a few seconds each in CI.
const DEFAULT_CASES: u32 = 5000;

/// A runner: deterministic in CI (`CI` set: the same inputs every run, so a red build is
/// about the change, not the dice), a fresh random walk by hand. Failures found are kept in
/// `tests/fuzz/regressions.txt` and replayed first on every run.
fn runner() -> TestRunner {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(DEFAULT_CASES);
    let regressions: &'static str = Box::leak(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../tests/fuzz/regressions.txt")
            .to_string_lossy()
            .into_owned()
            .into_boxed_str(),
    );
    let config = Config {
        cases,
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(regressions))),
        ..Config::default()
    };
    if std::env::var_os("CI").is_some() {
        TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha))
    } else {
        TestRunner::new(config)
    }
}

/// The seed inputs of one target.
fn corpus(target: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fuzz/corpus")
        .join(target);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("read corpus {}: {e}", dir.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    let seeds: Vec<Vec<u8>> = files
        .iter()
        .map(|p| std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display())))
        .collect();
    assert!(!seeds.is_empty(), "no seeds in {}", dir.display());
    seeds
}

/// One edit of an input; positions are taken modulo the input's length.
#[derive(Debug, Clone)]
enum Mutation {
    FlipBit(usize, u8),
    SetByte(usize, u8),
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    InsertToken(usize, usize),
    Duplicate(usize, usize),
    SpliceSeed(usize, usize, usize),
}

/// Tokens that reach deeper than random bytes: JSON structure, extreme numbers, SigV4 and
/// URI syntax, reference syntax.
const DICTIONARY: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ":",
    ",",
    "\"",
    "null",
    "true",
    "-1",
    "0",
    "1e999",
    "-0.0",
    "18446744073709551616",
    "\"\\u0000\"",
    "\"\\ud800\"",
    "\"containerDefinitions\"",
    "\"memory\"",
    "\"cpu\"",
    "\"dependsOn\"",
    "\"volumes\"",
    "\"portMappings\"",
    "\"taskDefinition\"",
    "\"essential\"",
    "\"healthCheck\"",
    "=",
    "/",
    "\n",
    "\r\n",
    "%",
    "%ZZ",
    "%2F",
    "..",
    "Credential=",
    "SignedHeaders=",
    "Signature=",
    "aws4_request",
    "AWS4-HMAC-SHA256 ",
    ";",
    "@sha256:",
    ":5000",
    "oci://",
    "//",
    "\u{ff}",
    "\u{10ffff}",
];

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(p, b)| Mutation::FlipBit(p, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, b)| Mutation::SetByte(p, b)),
        (any::<usize>(), 1usize..64).prop_map(|(p, n)| Mutation::Delete(p, n)),
        (any::<usize>(), prop::collection::vec(any::<u8>(), 1..16))
            .prop_map(|(p, b)| Mutation::Insert(p, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(p, t)| Mutation::InsertToken(p, t)),
        (any::<usize>(), 1usize..256).prop_map(|(p, n)| Mutation::Duplicate(p, n)),
        (any::<usize>(), any::<usize>(), any::<usize>())
            .prop_map(|(p, s, o)| Mutation::SpliceSeed(p, s, o)),
    ]
}

fn apply(input: &mut Vec<u8>, m: &Mutation, seeds: &[Vec<u8>]) {
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % (len + 1) };
    match m {
        Mutation::FlipBit(p, b) if !input.is_empty() => {
            let i = p % input.len();
            input[i] ^= 1 << b;
        }
        Mutation::SetByte(p, b) if !input.is_empty() => {
            let i = p % input.len();
            input[i] = *b;
        }
        Mutation::Delete(p, n) => {
            let start = at(*p, input.len()).min(input.len());
            let end = (start + n).min(input.len());
            input.drain(start..end);
        }
        Mutation::Insert(p, bytes) => {
            let i = at(*p, input.len());
            input.splice(i..i, bytes.iter().copied());
        }
        Mutation::InsertToken(p, t) => {
            let i = at(*p, input.len());
            let token = DICTIONARY[t % DICTIONARY.len()].as_bytes();
            input.splice(i..i, token.iter().copied());
        }
        Mutation::Duplicate(p, n) if !input.is_empty() => {
            let start = p % input.len();
            let end = (start + n).min(input.len());
            let copy = input[start..end].to_vec();
            input.splice(end..end, copy);
        }
        Mutation::SpliceSeed(p, s, o) => {
            let other = &seeds[s % seeds.len()];
            if !other.is_empty() {
                let from = o % other.len();
                let i = at(*p, input.len());
                input.truncate(i);
                input.extend_from_slice(&other[from..]);
            }
        }
        _ => {}
    }
}

/// A seed with a few edits applied: the input a target gets.
fn mutated(seeds: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    let n = seeds.len();
    (0..n, prop::collection::vec(mutation(), 0..8)).prop_map(move |(i, ms)| {
        let mut input = seeds[i].clone();
        for m in &ms {
            apply(&mut input, m, &seeds);
        }
        input
    })
}

mod targets;

#[test]
fn taskdef_parser_never_panics() {
    let mut runner = runner();
    runner
        .run(&mutated(corpus("taskdef")), |input| {
            targets::taskdef(&input);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn sigv4_verifier_never_panics() {
    let mut runner = runner();
    runner
        .run(&mutated(corpus("sigv4")), |input| {
            targets::sigv4(&input);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn image_reference_parser_never_panics() {
    let mut runner = runner();
    runner
        .run(&mutated(corpus("image_ref")), |input| {
            targets::image_ref(&input);
            Ok(())
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

/// The seeds themselves are what they claim: every definition in the corpus parses, and
/// the SigV4 seeds parse as requests whose Authorization header is well formed, so the
/// mutations start from inputs that reach deep into each parser.
#[test]
fn the_seed_corpus_reaches_past_the_first_check() {
    for seed in corpus("taskdef") {
        let text = String::from_utf8(seed).expect("utf-8 seed");
        let opts = wasmgate::taskdef::ValidationOptions::default();
        if let Err(e) = wasmgate::taskdef::parse(&text, &opts) {
            // Only semantic rules may fail (e.g. an image path), never the JSON shape.
            assert!(
                !matches!(e, wasmgate::taskdef::TaskDefError::Json(_)),
                "seed is not a task definition: {e}"
            );
        }
    }
    for seed in corpus("sigv4") {
        let (parts, _) = targets::request(&seed).expect("a seed is a request");
        wasmgate::api::sigv4::Presented::parse(&parts.headers).expect("a seed is signed");
    }
    for seed in corpus("image_ref") {
        let text = String::from_utf8(seed).expect("utf-8 seed");
        wasmgate::images::ImageRef::parse(&text).expect("a seed is a reference");
    }
}
