//! Random and mutated bodies thrown at every operation: no panic, no 5xx, no retryable
//! error code, and a refused request leaves the store exactly as it was.

use super::{Fixture, echo_def};
use serde_json::{Map, Value, json};

/// xorshift64*: deterministic, so a failure can be replayed from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap_or(0)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const MEMBERS: &[&str] = &[
    "cluster",
    "clusters",
    "clusterName",
    "taskDefinition",
    "tasks",
    "task",
    "count",
    "include",
    "maxResults",
    "nextToken",
    "tags",
    "resourceArn",
    "tagKeys",
    "overrides",
    "containerOverrides",
    "name",
    "command",
    "environment",
    "cpu",
    "memory",
    "family",
    "familyPrefix",
    "status",
    "sort",
    "desiredStatus",
    "startedBy",
    "serviceName",
    "launchType",
    "networkConfiguration",
    "awsvpcConfiguration",
    "subnets",
    "reason",
    "key",
    "value",
    "containerDefinitions",
    "image",
    "essential",
    "settings",
    "clientToken",
    "group",
    "propagateTags",
    "platformVersion",
    "enableExecuteCommand",
    "memoryReservation",
    "ephemeralStorage",
    "sizeInGiB",
    "volumes",
    "mountPoints",
    "dependsOn",
    "portMappings",
    "stopTimeout",
    "taskDefinition",
];

const STRINGS: &[&str] = &[
    "",
    "default",
    "echo",
    "echo:1",
    "echo:0",
    "echo:-1",
    "echo:99999999999",
    "FARGATE",
    "EC2",
    "ACTIVE",
    "INACTIVE",
    "ALL",
    "RUNNING",
    "STOPPED",
    "PENDING",
    "TAGS",
    "DESC",
    "ASC",
    "arn:aws:ecs:us-east-1:123456789012:cluster/default",
    "arn:aws:ecs:us-east-1:123456789012:task-definition/echo:1",
    "arn:aws:ecs:us-east-1:123456789012:task/default/0123456789abcdef0123456789abcdef",
    "arn:aws:ecs:us-east-1:123456789012:task/",
    "arn:aws:ecs:us-east-1:123456789012:",
    "arn:",
    "arn:aws:ecs:::::::",
    "aws:reserved",
    "ünïcødé",
    "💥",
    "a b",
    "\u{0}",
    "\n",
    "../..",
    "1 vCPU",
    "2 GB",
    "0.25 vcpu",
    "-1",
    "1e400",
    "NaN",
    "null",
    "{}",
    "[]",
    "00",
    "zz",
    "6e6f",
    "636c7573746572730a",
    "family:echo",
    "service:x",
];

fn random_string(rng: &mut Rng) -> String {
    if rng.chance(70) {
        return (*rng.pick(STRINGS)).to_owned();
    }
    let len = *rng.pick(&[1usize, 10, 64, 129, 256, 300, 2000]);
    let alphabet: Vec<char> = "aZ09-_:/ .@+=é中\u{7f}\t\"\\".chars().collect();
    (0..len).map(|_| *rng.pick(&alphabet)).collect()
}

fn random_value(rng: &mut Rng, depth: u32) -> Value {
    let kinds = if depth > 2 { 5 } else { 7 };
    match rng.below(kinds) {
        0 => Value::Null,
        1 => json!(rng.chance(50)),
        2 => {
            let n: &[i64] = &[
                0,
                1,
                -1,
                2,
                10,
                11,
                100,
                101,
                255,
                256,
                1024,
                i64::from(i32::MAX),
                i64::from(i32::MAX) + 1,
                i64::from(i32::MIN),
                i64::MAX,
                i64::MIN,
            ];
            json!(*rng.pick(n))
        }
        3 => json!(*rng.pick(&[0.5, -0.0, 1e300, 3.0])),
        4 => json!(random_string(rng)),
        5 => Value::Array(
            (0..rng.below(4))
                .map(|_| random_value(rng, depth + 1))
                .collect(),
        ),
        _ => {
            let mut o = Map::new();
            for _ in 0..rng.below(4) {
                o.insert(
                    (*rng.pick(MEMBERS)).to_owned(),
                    random_value(rng, depth + 1),
                );
            }
            Value::Object(o)
        }
    }
}

/// One random change somewhere inside `v`.
fn mutate(rng: &mut Rng, v: &mut Value, depth: u32) {
    let descend = rng.chance(60) && depth < 6;
    match v {
        Value::Object(o) if !o.is_empty() && descend => {
            let keys: Vec<String> = o.keys().cloned().collect();
            let key = rng.pick(&keys).clone();
            if let Some(child) = o.get_mut(&key) {
                mutate(rng, child, depth + 1);
            }
        }
        Value::Array(a) if !a.is_empty() && descend => {
            let i = rng.below(a.len());
            mutate(rng, &mut a[i], depth + 1);
        }
        Value::Object(o) => match rng.below(3) {
            0 if !o.is_empty() => {
                let keys: Vec<String> = o.keys().cloned().collect();
                let key = rng.pick(&keys).clone();
                o.remove(&key);
            }
            1 => {
                o.insert((*rng.pick(MEMBERS)).to_owned(), random_value(rng, depth));
            }
            _ => *v = random_value(rng, depth),
        },
        Value::Array(a) => match rng.below(3) {
            0 if !a.is_empty() => {
                let item = a[rng.below(a.len())].clone();
                let copies = *rng.pick(&[1usize, 10, 101]);
                a.extend(std::iter::repeat_n(item, copies));
            }
            1 => a.push(random_value(rng, depth)),
            _ => *v = random_value(rng, depth),
        },
        _ => *v = random_value(rng, depth),
    }
}

const RETRYABLE: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "RequestTimeout",
    "RequestTimeoutException",
    "ServerException",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_bodies_never_panic_fail_the_host_or_change_state_when_refused() {
    let f = Fixture::new();
    let td = f.register(echo_def("echo", &["fuzz"])).await;
    let task = f.run(json!({"taskDefinition": "echo"})).await;
    f.wait_idle().await;
    let cluster = "arn:aws:ecs:us-east-1:123456789012:cluster/default";
    let bases: Vec<(&str, Value)> = vec![
        (
            "CreateCluster",
            json!({"clusterName": "fuzzed", "tags": [{"key": "k", "value": "v"}],
            "settings": [{"name": "containerInsights", "value": "enabled"}]}),
        ),
        ("DeleteCluster", json!({"cluster": "fuzzed"})),
        (
            "ListClusters",
            json!({"maxResults": 2, "nextToken": "636c7573746572730a61"}),
        ),
        (
            "DescribeClusters",
            json!({"clusters": ["default", cluster], "include": ["TAGS"]}),
        ),
        ("RegisterTaskDefinition", echo_def("echo", &["again"])),
        (
            "DeregisterTaskDefinition",
            json!({"taskDefinition": "echo:1"}),
        ),
        (
            "DescribeTaskDefinition",
            json!({"taskDefinition": td, "include": ["TAGS"]}),
        ),
        (
            "ListTaskDefinitions",
            json!({"familyPrefix": "echo", "status": "ACTIVE", "sort": "DESC", "maxResults": 1}),
        ),
        (
            "ListTaskDefinitionFamilies",
            json!({"familyPrefix": "e", "status": "ALL", "maxResults": 1}),
        ),
        (
            "RunTask",
            json!({"taskDefinition": "echo", "cluster": "default", "count": 1,
            "launchType": "FARGATE", "startedBy": "fuzz", "group": "g",
            "networkConfiguration": {"awsvpcConfiguration": {"subnets": ["s-1"], "assignPublicIp": "ENABLED"}},
            "overrides": {"containerOverrides": [{"name": "app", "command": ["x"],
                "environment": [{"name": "A", "value": "b"}], "cpu": 128, "memory": 256}]},
            "tags": [{"key": "k", "value": "v"}], "clientToken": "fuzz-token"}),
        ),
        (
            "StopTask",
            json!({"task": task, "cluster": "default", "reason": "fuzz"}),
        ),
        (
            "DescribeTasks",
            json!({"tasks": [task], "cluster": "default", "include": ["TAGS"]}),
        ),
        (
            "ListTasks",
            json!({"cluster": "default", "family": "echo", "desiredStatus": "STOPPED",
            "startedBy": "fuzz", "maxResults": 5}),
        ),
        (
            "TagResource",
            json!({"resourceArn": cluster, "tags": [{"key": "k", "value": "v"}]}),
        ),
        (
            "UntagResource",
            json!({"resourceArn": cluster, "tagKeys": ["k"]}),
        ),
        ("ListTagsForResource", json!({"resourceArn": task})),
    ];

    let seed = 0x5eed_0000_0000_0001u64;
    let mut rng = Rng(seed);
    let (mut accepted, mut refused) = (0u32, 0u32);
    for i in 0..1600 {
        let (op, base) = &bases[i % bases.len()];
        let body = match rng.below(10) {
            0 => random_value(&mut rng, 0),
            1 => base.clone(),
            _ => {
                let mut b = base.clone();
                for _ in 0..=rng.below(3) {
                    mutate(&mut rng, &mut b, 0);
                }
                b
            }
        };
        f.wait_idle().await;
        let before = f.store.dump();
        match f.call(op, body.clone()).await {
            Ok(out) => {
                accepted += 1;
                assert!(out.is_object(), "{op} {body}: {out}");
            }
            Err(e) => {
                refused += 1;
                assert!(e.status < 500, "{op} {body}: {e:?}");
                assert!(!RETRYABLE.contains(&e.code.as_str()), "{op} {body}: {e:?}");
                assert!(!e.message.is_empty(), "{op} {body}: {e:?}");
                assert_eq!(f.store.dump(), before, "{op} {body} changed state: {e:?}");
            }
        }
    }
    f.wait_idle().await;
    assert!(
        accepted > 100 && refused > 500,
        "{accepted} accepted, {refused} refused"
    );
}
