"""Fuzz every operation through signed raw HTTP requests: random and mutated JSON bodies
(wrong types, nulls, huge numbers, deep nesting, unknown members, random strings, broken
JSON). Every answer must be a 2xx JSON object or a 4xx JSON error with `__type`: never a
5xx, never a hang. A rejected request must change nothing (checked against a snapshot of
the state after every rejected request to a mutating operation, and after each group of
requests to the others), and the server must still answer at the end.

Usage: fuzz.py <port> [bodies-per-operation]   (WASMGATE_FUZZ_SEED=<n> replays a run)
"""

import copy
import random

from wg import *  # noqa: F403

PER_OP = int(ARGS[0]) if ARGS else 30
SEED = int(os.environ.get("WASMGATE_FUZZ_SEED") or time.time_ns() % 2**32)
rnd = random.Random(SEED)
print(f"fuzz seed {SEED} ({PER_OP} bodies per operation); replay with WASMGATE_FUZZ_SEED={SEED}")

F = {}  # fixtures

MUTATING = {
    "CreateCluster", "DeleteCluster", "RegisterTaskDefinition", "DeregisterTaskDefinition",
    "RunTask", "StopTask", "TagResource", "UntagResource", "CreateLogGroup", "DeleteLogGroup",
    "CreateLogStream", "PutLogEvents",
}


@step
def fixtures():
    F["cluster_arn"] = cluster_arn("fz")
    F["td_arn"] = taskdef_arn("fz-td", 1)
    ecs.create_cluster(clusterName="fz")
    eq(register("fz-td", [container("main", "echo", ["fuzz"])])["taskDefinitionArn"], F["td_arn"], "fz-td:1")
    register("fz-log", [container("main", "echo", ["a", "b", "c"], log_group="/fz")])
    register("fz-sleep", [container("main", "sleep", ["600000"], stopTimeout=2)])
    log_task = run_task("fz-log", cluster="fz")[0]["taskArn"]
    F["sleeper"] = task_id(run_task("fz-sleep", cluster="fz")[0]["taskArn"])
    register("fz-dereg", [container("main", "echo")])
    ecs.create_cluster(clusterName="fz-del")
    logs.create_log_group(logGroupName="/fz-del")
    logs.create_log_group(logGroupName="/fz-put")
    logs.create_log_stream(logGroupName="/fz-put", logStreamName="s")
    wait_tasks("stopped", [log_task], cluster="fz")
    F["log_task"] = task_id(log_task)
    F["stream"] = f"p/main/{F['log_task']}"


def seeds():
    net = {"awsvpcConfiguration": {"subnets": ["subnet-1"], "securityGroups": ["sg-1"], "assignPublicIp": "ENABLED"}}
    tags = [{"key": "k", "value": "v"}]
    return {
        ("ecs", "CreateCluster"): {"clusterName": "fz-new", "tags": tags,
                                   "settings": [{"name": "containerInsights", "value": "enabled"}]},
        ("ecs", "DeleteCluster"): {"cluster": "fz-del"},
        ("ecs", "ListClusters"): {"maxResults": 5, "nextToken": "abc"},
        ("ecs", "DescribeClusters"): {"clusters": ["fz", "default"], "include": ["TAGS", "SETTINGS"]},
        ("ecs", "RegisterTaskDefinition"): taskdef("fz-reg", [container("main", "echo", ["x"],
                                                                        environment=[{"name": "A", "value": "1"}],
                                                                        cpu=128, memory=256)],
                                                   tags=tags, ephemeralStorage={"sizeInGiB": 21},
                                                   volumes=[{"name": "v"}]),
        ("ecs", "DeregisterTaskDefinition"): {"taskDefinition": "fz-dereg:1"},
        ("ecs", "DescribeTaskDefinition"): {"taskDefinition": "fz-td", "include": ["TAGS"]},
        ("ecs", "ListTaskDefinitions"): {"familyPrefix": "fz", "status": "ACTIVE", "sort": "DESC", "maxResults": 10},
        ("ecs", "ListTaskDefinitionFamilies"): {"familyPrefix": "fz", "status": "ALL", "maxResults": 10},
        ("ecs", "RunTask"): {"cluster": "fz", "taskDefinition": "fz-td", "count": 1, "launchType": "FARGATE",
                             "networkConfiguration": net, "startedBy": "fz", "group": "g", "tags": tags,
                             "overrides": {"containerOverrides": [{"name": "main", "command": ["y"],
                                                                   "environment": [{"name": "B", "value": "2"}]}],
                                           "cpu": "256", "memory": "512"}},
        ("ecs", "StopTask"): {"cluster": "fz", "task": F.get("sleeper", "0" * 32), "reason": "fuzz"},
        ("ecs", "DescribeTasks"): {"cluster": "fz", "tasks": [F.get("log_task", "0" * 32)], "include": ["TAGS"]},
        ("ecs", "ListTasks"): {"cluster": "fz", "family": "fz-td", "startedBy": "fz", "desiredStatus": "STOPPED",
                               "maxResults": 5},
        ("ecs", "TagResource"): {"resourceArn": F.get("cluster_arn"), "tags": tags},
        ("ecs", "UntagResource"): {"resourceArn": F.get("td_arn"), "tagKeys": ["k"]},
        ("ecs", "ListTagsForResource"): {"resourceArn": F.get("cluster_arn")},
        ("logs", "GetLogEvents"): {"logGroupName": "/fz", "logStreamName": F.get("stream", "x"), "limit": 5,
                                   "startFromHead": True, "startTime": 0, "endTime": 2**41},
        ("logs", "FilterLogEvents"): {"logGroupName": "/fz", "filterPattern": '"arg"', "limit": 5,
                                      "logStreamNames": [F.get("stream", "x")], "startTime": 0},
        ("logs", "DescribeLogGroups"): {"logGroupNamePrefix": "/fz", "limit": 5},
        ("logs", "DescribeLogStreams"): {"logGroupName": "/fz", "limit": 5, "orderBy": "LogStreamName",
                                         "descending": True},
        ("logs", "CreateLogGroup"): {"logGroupName": "/fz-new"},
        ("logs", "DeleteLogGroup"): {"logGroupName": "/fz-del"},
        ("logs", "CreateLogStream"): {"logGroupName": "/fz-put", "logStreamName": "new-stream"},
        ("logs", "PutLogEvents"): {"logGroupName": "/fz-put", "logStreamName": "s",
                                   "logEvents": [{"timestamp": int(time.time() * 1000), "message": "m1"},
                                                 {"timestamp": int(time.time() * 1000) + 1, "message": "m2"}]},
    }


# ----------------------------------------------------------------------------- mutations

def rand_string():
    kind = rnd.randrange(8)
    if kind == 0:
        return ""
    if kind == 1:
        return "x" * rnd.choice([256, 257, 1025, 70000])
    if kind == 2:
        return "".join(chr(rnd.randrange(0x20, 0x7F)) for _ in range(rnd.randrange(1, 40)))
    if kind == 3:
        return "".join(chr(rnd.randrange(0, 0x2FFFF)) for _ in range(rnd.randrange(1, 20))
                       ).encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if kind == 4:
        return rnd.choice(["../../etc/passwd", "arn:aws:ecs:us-east-1:000000000000:cluster/",
                           "arn:aws:ecs:eu-west-1:1:task-definition/x:-1", "fz-td:0", "fz-td:99999999999",
                           "fz-td:", ":1", "a:b:c", "%00", "\u0000", "' OR 1=1 --", "💥", "/fz/../x",
                           "arn:aws:ecs:us-east-1:000000000000:task/fz/" + "0" * 32])
    if kind == 5:
        return "\n".join(["line"] * rnd.randrange(1, 5))
    if kind == 6:
        return str(rnd.randrange(-10**6, 10**6))
    return rnd.choice(["ACTIVE", "INACTIVE", "RUNNING", "STOPPED", "PENDING", "ALL", "DESC", "TAGS",
                       "FARGATE", "EC2", "true", "null"])


def deep(n, kind):
    v = 1
    for _ in range(n):
        v = [v] if kind == "list" else {"a": v}
    return v


def evil_value():
    kind = rnd.randrange(14)
    return [
        lambda: None,
        lambda: rnd.choice([True, False]),
        lambda: rnd.choice([0, -1, 1, 11, 101, 2**31, 2**31 - 1, -(2**31) - 1, 2**53 + 1, 2**63, 2**64 + 7, -(2**63) - 1]),
        lambda: rnd.choice([0.5, -0.0, 1e308, -1e308, 3.14]),
        rand_string,
        lambda: [],
        lambda: {},
        lambda: deep(rnd.choice([20, 60, 200]), rnd.choice(["list", "obj"])),
        lambda: [rand_string()[:50] for _ in range(rnd.choice([1, 3, 101, 1000]))],
        lambda: {rand_string()[:30]: evil_value_simple() for _ in range(rnd.randrange(1, 5))},
        lambda: [evil_value_simple() for _ in range(rnd.randrange(1, 4))],
        lambda: [{"key": evil_value_simple(), "value": evil_value_simple()}],
        lambda: [{"name": evil_value_simple(), "value": evil_value_simple()}],
        lambda: rnd.choice([{"name": "main"}, [{"name": "main", "command": ["x"]}], {"containerOverrides": 1}]),
    ][kind]()


def evil_value_simple():
    return rnd.choice([None, 0, -1, 2**64, "", "x", True, [], {}, 1.5, "💥"])


def paths(v, prefix=()):
    """Every (path) to a member, list element or the root, in a JSON value."""
    out = [prefix]
    if isinstance(v, dict):
        for k, x in v.items():
            out += paths(x, prefix + (k,))
    elif isinstance(v, list):
        for i, x in enumerate(v):
            out += paths(x, prefix + (i,))
    return out


def get_at(v, path):
    for p in path:
        v = v[p]
    return v


def set_at(root, path, value):
    if not path:
        return value
    parent = get_at(root, path[:-1])
    parent[path[-1]] = value
    return root


def mutate(seed):
    body = copy.deepcopy(seed)
    for _ in range(rnd.choice([1, 1, 1, 2, 3])):
        ps = paths(body)
        p = rnd.choice(ps)
        op = rnd.randrange(6)
        target = get_at(body, p) if ps else None
        if op == 0 or not p:  # replace a member with an evil value
            if p:
                body = set_at(body, p, evil_value())
            elif isinstance(body, dict) and body:
                k = rnd.choice(list(body))
                body[k] = evil_value()
        elif op == 1 and isinstance(get_at(body, p[:-1]), dict):  # drop a member
            del get_at(body, p[:-1])[p[-1]]
        elif op == 2:  # unknown members
            obj = target if isinstance(target, dict) else body if isinstance(body, dict) else None
            if obj is not None:
                obj[rnd.choice(["unknownMember", "__type", "Message", "", "\u0000", "nextToken", "count"])] = evil_value()
        elif op == 3:  # swap the type
            if isinstance(target, str):
                body = set_at(body, p, rnd.choice([len(target), [target], {"v": target}, None]))
            elif isinstance(target, (int, float)) and not isinstance(target, bool):
                body = set_at(body, p, rnd.choice([str(target), [target], -target, target * 10**12]))
            elif isinstance(target, list):
                body = set_at(body, p, rnd.choice([{str(i): x for i, x in enumerate(target)}, target * 200,
                                                   target[:0], "list"]))
            elif isinstance(target, dict):
                body = set_at(body, p, rnd.choice([list(target.values()), json.dumps(target), None]))
            elif isinstance(target, bool):
                body = set_at(body, p, rnd.choice(["true", 1, None]))
        elif op == 4 and isinstance(target, list) and target:  # grow a list
            body = set_at(body, p, target + [copy.deepcopy(target[0]) for _ in range(rnd.choice([1, 10, 120]))])
        else:  # a random string in a string's place
            if isinstance(target, str):
                body = set_at(body, p, rand_string())
    return json.dumps(body).encode()


def raw_bodies(seed):
    """Bodies that are not a well-formed JSON object."""
    text = json.dumps(seed)
    n = rnd.randrange(14)
    return [
        lambda: b"",
        lambda: b"null",
        lambda: rnd.choice([b"[]", b"1", b'"str"', b"true", b"[{}]"]),
        lambda: text[: rnd.randrange(1, max(2, len(text)))].encode(),
        lambda: (text + rnd.choice(["}", "x", ",", " {}", "\u0000"])).encode(),
        lambda: ("[" * 100000 + "]" * 100000).encode(),
        lambda: ('{"a":' * 5000 + "1" + "}" * 5000).encode(),
        lambda: json.dumps({f"k{i}": i for i in range(20000)}).encode(),
        lambda: text.replace(":", ": NaN, \"x\":", 1).encode(),
        lambda: ('{"maxResults": ' + "9" * 500 + ', "count": 1e99999}').encode(),
        lambda: (text[:-1] + ', ' + text[1:]).encode() if len(text) > 2 else b"{}{}",  # duplicate keys
        lambda: bytes(rnd.randrange(256) for _ in range(rnd.randrange(1, 300))),
        lambda: b'{"s": "\\ud800", "t": "\\uZZZZ"}',
        lambda: json.dumps(seed, ensure_ascii=False).encode("utf-16"),
    ][n]()


def bodies(seed):
    out = []
    for i in range(PER_OP):
        r = rnd.random()
        if r < 0.6:
            out.append(mutate(seed))
        elif r < 0.85:
            out.append(raw_bodies(seed))
        else:
            out.append(json.dumps(evil_value() if rnd.random() < 0.5 else
                                  {rand_string()[:40]: evil_value() for _ in range(rnd.randrange(0, 6))}).encode())
    return out


# ----------------------------------------------------------------------------- state


def snapshot():
    def call(service, op, body):
        r = raw_call(service, op, body)
        if r.status != 200:
            raise AssertionError(f"snapshot {op} {body}: {r}")
        return r.json

    s = {}
    s["clusters"] = tuple(sorted(call("ecs", "ListClusters", {"maxResults": 100}).get("clusterArns", [])))
    s["active"] = tuple(call("ecs", "ListTaskDefinitions", {"maxResults": 100}).get("taskDefinitionArns", []))
    s["inactive"] = tuple(call("ecs", "ListTaskDefinitions", {"maxResults": 100, "status": "INACTIVE"}
                               ).get("taskDefinitionArns", []))
    s["families"] = tuple(call("ecs", "ListTaskDefinitionFamilies", {"maxResults": 100, "status": "ALL"}
                               ).get("families", []))
    tasks = set()
    for cl in ("fz", "default"):
        if cluster_arn(cl) in s["clusters"]:
            for st in ("RUNNING", "STOPPED"):
                tasks |= set(call("ecs", "ListTasks", {"cluster": cl, "desiredStatus": st, "maxResults": 100}
                                  ).get("taskArns", []))
    s["tasks"] = tuple(sorted(tasks))
    for arn in (F.get("cluster_arn"), F.get("td_arn")):
        s["tags " + arn] = tuple(sorted((t.get("key"), t.get("value")) for t in
                                        call("ecs", "ListTagsForResource", {"resourceArn": arn}).get("tags", [])))
    s["groups"] = tuple(g["logGroupName"] for g in call("logs", "DescribeLogGroups", {}).get("logGroups", []))
    if "/fz-put" in s["groups"]:
        s["fz-put streams"] = tuple(x["logStreamName"] for x in call(
            "logs", "DescribeLogStreams", {"logGroupName": "/fz-put"}).get("logStreams", []))
        if "s" in s["fz-put streams"]:
            s["fz-put events"] = tuple(e["message"] for e in call(
                "logs", "GetLogEvents", {"logGroupName": "/fz-put", "logStreamName": "s", "startFromHead": True,
                                         "limit": 10000}).get("events", []))
    return s


def diff(a, b):
    return {k: (a.get(k), b.get(k)) for k in set(a) | set(b) if a.get(k) != b.get(k)}


@step
def fuzz_every_operation():
    stats = {}
    t0 = time.monotonic()
    baseline = snapshot()
    for (service, op), seed in seeds().items():
        # The seed itself first (it may well be accepted), then the mutants.
        group = [json.dumps(seed).encode()] + bodies(seed)
        counts = stats.setdefault(op, {"2xx": 0, "4xx": 0, "bad": 0})
        for body in group:
            show = body[:300] + (b"..." if len(body) > 300 else b"")
            try:
                r = raw_call(service, op, body, timeout=10)
            except Hang as e:
                counts["bad"] += 1
                check(False, f"{op}: no answer (hang) for body {show!r}", str(e))
                continue
            except (ConnectionError, OSError, AssertionError) as e:
                counts["bad"] += 1
                check(False, f"{op}: connection failed for body {show!r}", repr(e))
                continue
            if 200 <= r.status < 300:
                counts["2xx"] += 1
                if os.environ.get("WASMGATE_FUZZ_VERBOSE"):
                    print(f"  accepted {op}: {show!r}")
                check(isinstance(r.json, dict), f"{op}: a 2xx answer is a JSON object, body {show!r}", r)
                baseline = snapshot()
            elif 400 <= r.status < 500:
                counts["4xx"] += 1
                ok = check(r.error_type and isinstance(r.json, dict), f"{op}: 4xx without a JSON __type, body {show!r}", r)
                if ok:
                    check(isinstance(r.json.get("message", r.json.get("Message")), str),
                          f"{op}: error without a message, body {show!r}", r)
                    check(r.error_type not in ("ThrottlingException", "LimitExceededException", "ServerException",
                                               "Throttling", "TooManyRequestsException"),
                          f"{op}: a retryable error code for bad input, body {show!r}", r)
                if op in MUTATING:
                    now = snapshot()
                    if not check(now == baseline, f"{op}: state changed by a rejected request, body {show!r}",
                                 {"diff": diff(baseline, now), "answer": r}):
                        baseline = now
            else:
                counts["bad"] += 1
                check(False, f"{op}: status {r.status} for body {show!r}", r)
        if op not in MUTATING:
            now = snapshot()
            if not check(now == baseline, f"{op}: state changed by read-only requests", diff(baseline, now)):
                baseline = now
    print(f"fuzzed {sum(sum(c.values()) for c in stats.values())} requests in {time.monotonic() - t0:.1f}s")
    for op, c in stats.items():
        print(f"  {op:28} 2xx {c['2xx']:3}  4xx {c['4xx']:3}  bad {c['bad']:3}")


def header_cases():
    """Requests that are wrong at the HTTP or signature level: (description, headers, body,
    method, path). Bodies are valid; the damage is elsewhere."""
    body = b'{"clusterName": "hdr"}'
    good = sign("ecs", "CreateCluster", body)
    auth = good["Authorization"]
    cred, signed, sig = [p.strip() for p in auth[len("AWS4-HMAC-SHA256 "):].split(",")]
    variants = {
        "no algorithm": auth[len("AWS4-HMAC-SHA256 "):],
        "other algorithm": auth.replace("AWS4-HMAC-SHA256", "AWS4-HMAC-SHA512"),
        "algorithm only": "AWS4-HMAC-SHA256",
        "empty": "",
        "garbage": "x" * 5000,
        "no Credential": f"AWS4-HMAC-SHA256 {signed}, {sig}",
        "no SignedHeaders": f"AWS4-HMAC-SHA256 {cred}, {sig}",
        "no Signature": f"AWS4-HMAC-SHA256 {cred}, {signed}",
        "short credential": "AWS4-HMAC-SHA256 Credential=test/20240101, " + f"{signed}, {sig}",
        "credential with slashes": "AWS4-HMAC-SHA256 Credential=test////////aws4_request, " + f"{signed}, {sig}",
        "empty key id": auth.replace("Credential=test/", "Credential=/"),
        "signature not hex": auth[: -64] + "z" * 64,
        "signature short": auth[: -60],
        "host not signed": auth.replace("content-type;host;", "content-type;"),
        "unknown signed header": auth.replace("x-amz-target", "x-amz-target;x-not-sent"),
        "signed headers unsorted": auth.replace("content-type;host;x-amz-date;x-amz-target",
                                                "x-amz-target;host;content-type;x-amz-date"),
        "unicode": auth.replace("test", "tëst"),
        "scope date differs": auth.replace("Credential=test/" + good["X-Amz-Date"][:8],
                                           "Credential=test/19990101"),
        "scope region": auth.replace("/us-east-1/", "/mars-1/"),
        "scope service": auth.replace("/ecs/", "/s3/"),
        "scope terminator": auth.replace("aws4_request", "aws4_reques"),
    }
    out = [(f"Authorization {k}", dict(good, Authorization=v), body, "POST", "/") for k, v in variants.items()]
    for k, v in {"no date": None, "bad date": "yesterday", "date without Z": good["X-Amz-Date"][:-1],
                 "year 9999": "99991231T235959Z", "empty date": ""}.items():
        h = dict(good)
        if v is None:
            del h["X-Amz-Date"]
        else:
            h["X-Amz-Date"] = v
        out.append((f"X-Amz-Date {k}", h, body, "POST", "/"))
    for k, v in {"empty op": "AmazonEC2ContainerServiceV20141113.", "no dot": "AmazonEC2ContainerServiceV20141113",
                 "two dots": "AmazonEC2ContainerServiceV20141113.CreateCluster.X", "long": "A." + "B" * 10000,
                 "unicode": "AmazonEC2ContainerServiceV20141113.Créate", "lower-case op":
                 "AmazonEC2ContainerServiceV20141113.createcluster"}.items():
        h = sign("ecs", "CreateCluster", body, extra_headers={"X-Amz-Target": v})
        out.append((f"X-Amz-Target {k}", h, body, "POST", "/"))
    # Other content types: refused or served, never a 5xx (a read-only operation, so that
    # serving them changes nothing).
    for ct in ["application/json", "application/x-amz-json-1.0", "text/plain", "", "application/x-amz-cbor-1.1"]:
        h = sign("ecs", "ListClusters", b"{}", extra_headers={"Content-Type": ct})
        out.append((f"tolerated: Content-Type {ct!r}", h, b"{}", "POST", "/"))
    for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"]:
        out.append((f"method {method}", good, body, method, "/"))
    for path in ["/x", "/?a=b", "//", "/%2e%2e/"]:
        out.append((f"path {path}", good, body, "POST", path))
    return out


@step
def fuzz_headers_and_signatures():
    """Everything here must be refused (it is signed wrongly, or does not say what to do),
    with a 4xx JSON error, and create nothing."""
    before = snapshot()
    for what, headers, body, method, path in header_cases():
        try:
            r = raw_request(headers, body, method=method, path=path, timeout=10)
        except Hang as e:
            check(False, f"{what}: no answer", str(e))
            continue
        if what.startswith("tolerated") and r.status == 200:
            continue
        check(400 <= r.status < 500 and r.error_type is not None, f"{what}: a 4xx JSON error with __type", r)
    after = snapshot()
    check(cluster_arn("hdr") not in after["clusters"], "no cluster 'hdr' created by refused requests",
          diff(before, after))
    eq(after, before, "state unchanged by refused requests")


@step
def server_still_answers():
    eq(raw_call("ecs", "ListClusters", {}).status, 200, "ListClusters after the fuzz")
    td = register("after-fuzz", [container("main", "echo")])
    eq(td["family"], "after-fuzz", "register after the fuzz")
    r = logs.describe_log_groups(logGroupNamePrefix="/fz")
    check(any(g["logGroupName"] == "/fz" for g in r["logGroups"]), "/fz still there", r)


main()
