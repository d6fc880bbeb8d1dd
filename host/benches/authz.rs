//! Authorisation cost per API call: `PolicyAuthorizer::decide` for an `ecs:RunTask` by an
//! IAM user with 10 attached policies of 4 statements each (wildcard actions, ARN patterns,
//! a variable, ArnEquals / StringEquals / Bool / IpAddress conditions), as the router runs
//! it after decoding. The policies come from an in-memory `PolicySource` (parsed once, as
//! the IAM store keeps them), so this is the engine's cost: building the request context
//! from the authorisation table and evaluating every statement.
//!
//! Cases: allowed by the last policy (every statement is looked at), and denied
//! implicitly (likewise). Each call is timed on its own; p50, p99 and mean over `CALLS`.
//!
//! `cargo bench --bench authz` (prints Markdown for BENCHMARKS.md).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmgate::iam::authz::{PolicyAuthorizer, PolicySource, PrincipalPolicies};
use wasmgate::iam::policy::PolicyDocument;
use wasmgate::protocol::value::Node;
use wasmgate::protocol::{ApiError, AuthorizeRequest, Principal, PrincipalKind};

const CALLS: usize = 200_000;
const WARMUP: usize = 20_000;
const REGION: &str = "us-east-1";
const ACCOUNT: &str = "000000000000";

struct Source(PrincipalPolicies);

impl PolicySource for Source {
    fn policies_for(&self, _: &Principal) -> Result<PrincipalPolicies, ApiError> {
        Ok(self.0.clone())
    }

    fn resource_tags(&self, _: &str) -> Result<Vec<(String, String)>, ApiError> {
        Ok(Vec::new())
    }
}

/// Policy `i`: three statements that do not apply to a RunTask in cluster `a`, and one
/// that allows it when `i` is the last.
fn policy(i: usize, last: bool) -> String {
    let cluster = if last { "a" } else { "other" };
    format!(
        r#"{{"Version": "2012-10-17", "Statement": [
  {{"Sid": "Logs{i}", "Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
    "Resource": "arn:aws:logs:*:*:log-group:/team{i}/*"}},
  {{"Sid": "Own{i}", "Effect": "Allow", "Action": "iam:*AccessKey*",
    "Resource": "arn:aws:iam::*:user/${{aws:username}}"}},
  {{"Sid": "Describe{i}", "Effect": "Allow", "Action": ["ecs:Describe*", "ecs:List*"], "Resource": "*",
    "Condition": {{"Bool": {{"aws:SecureTransport": "true"}}, "IpAddress": {{"aws:SourceIp": "10.{i}.0.0/16"}}}}}},
  {{"Sid": "Run{i}", "Effect": "Allow", "Action": ["ecs:RunTask", "ecs:StopTask"],
    "Resource": "arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/web*",
    "Condition": {{"ArnEquals": {{"ecs:cluster": "arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{cluster}"}},
                  "StringEquals": {{"aws:PrincipalTag/team": "web"}}}}}}
]}}"#
    )
}

fn input(cluster: &str) -> Node {
    Node::Struct(vec![
        ("cluster".into(), Node::Str(cluster.into())),
        ("taskDefinition".into(), Node::Str("web:3".into())),
        ("count".into(), Node::Int(1)),
    ])
}

fn measure(
    authz: &PolicyAuthorizer,
    who: &Principal,
    input: &Node,
    allowed: bool,
) -> Vec<Duration> {
    let request = AuthorizeRequest {
        principal: who,
        action_prefix: "ecs",
        operation: "RunTask",
        input,
        source_ip: Some("127.0.0.1".parse().expect("ip")),
        secure_transport: false,
    };
    let mut times = Vec::with_capacity(CALLS);
    for i in 0..WARMUP + CALLS {
        let start = Instant::now();
        let decision = authz.decide(black_box(&request), time::OffsetDateTime::now_utc());
        let took = start.elapsed();
        assert_eq!(decision.is_ok(), allowed, "unexpected decision");
        black_box(decision).ok();
        if i >= WARMUP {
            times.push(took);
        }
    }
    times.sort();
    times
}

fn row(case: &str, times: &[Duration]) {
    let pct = |p: f64| times[((times.len() as f64 - 1.0) * p) as usize];
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    println!(
        "| {case} | {:.2} | {:.2} | {:.2} |",
        pct(0.5).as_secs_f64() * 1e6,
        pct(0.99).as_secs_f64() * 1e6,
        mean.as_secs_f64() * 1e6
    );
}

fn main() {
    let policies = (0..10)
        .map(|i| {
            let doc = PolicyDocument::parse_identity(&policy(i, i == 9)).expect("policy parses");
            (format!("arn:aws:iam::{ACCOUNT}:policy/p{i}"), Arc::new(doc))
        })
        .collect();
    let source = Source(PrincipalPolicies {
        policies,
        tags: vec![("team".into(), "web".into())],
        user_id: "AIDAALICE".into(),
    });
    let authz = PolicyAuthorizer::new(Arc::new(source), REGION, ACCOUNT);
    let alice = Principal {
        access_key_id: "AKIAALICE".into(),
        arn: format!("arn:aws:iam::{ACCOUNT}:user/alice"),
        kind: PrincipalKind::User {
            name: "alice".into(),
            id: "AIDAALICE".into(),
        },
    };

    let allowed = measure(&authz, &alice, &input("a"), true);
    let denied = measure(&authz, &alice, &input("b"), false);

    println!(
        "Authorisation of ecs:RunTask, IAM user with 10 attached policies × 4 statements, {CALLS} calls each:\n"
    );
    println!("| case | p50 µs | p99 µs | mean µs |");
    println!("|---|---|---|---|");
    row("allowed (by the 10th policy)", &allowed);
    row("denied (no policy allows)", &denied);
}
