"""Errors as botocore sees them: the exception class, the code, HTTP 400 (never 5xx), and
no effect of a rejected request. Also the protocol-level errors: signatures, unknown
operations, malformed bodies."""

import datetime

from wg import *  # noqa: F403

ECHO = [container("main", "echo")]


def clusters():
    return sorted(ecs.list_clusters()["clusterArns"])


@step
def modeled_exceptions():
    register("known", ECHO)
    try:
        ecs.describe_task_definition(taskDefinition="unknown-family")
        check(False, "describe of an unknown family should raise")
    except ecs.exceptions.ClientException as e:
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "ClientException status")
    try:
        ecs.run_task(cluster="nowhere", taskDefinition="known")
        check(False, "run_task on an unknown cluster should raise")
    except ecs.exceptions.ClusterNotFoundException as e:
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "ClusterNotFoundException status")
    try:
        ecs.register_task_definition(**taskdef("badsize", ECHO, cpu="256", memory="4096"))
        check(False, "256 CPU / 4096 memory should be refused")
    except ecs.exceptions.ClientException as e:
        msg = e.response["Error"]["Message"]
        check("No Fargate configuration exists" in msg, "Fargate message", msg)
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "status")
    try:
        ecs_raw.run_task(taskDefinition="known", count=11)
        check(False, "count=11 should be refused")
    except ecs_raw.exceptions.InvalidParameterException as e:
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "InvalidParameterException status")
        check("count" in e.response["Error"]["Message"], "message names count", e.response["Error"])
    try:
        ecs.list_clusters(maxResults=0)
        check(False, "maxResults=0 should be refused")
    except ecs.exceptions.InvalidParameterException as e:
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "status")
        check("maxResults" in e.response["Error"]["Message"], "message names maxResults", e.response["Error"])
    eq(ecs.list_tasks(desiredStatus="STOPPED")["taskArns"] + ecs.list_tasks()["taskArns"], [],
       "refused run_task calls started nothing")
    eq(ecs.list_task_definitions(familyPrefix="badsize")["taskDefinitionArns"], [], "nothing registered")


@step
def wrong_types_server_side():
    """botocore would refuse these (or fail to serialize them); the server must refuse
    them too, with a 400 whose message names the member."""
    cases = [
        ("CreateCluster", {"clusterName": 12}, "clusterName"),
        ("ListClusters", {"maxResults": "ten"}, "maxResults"),
        ("ListClusters", {"maxResults": 1.5}, "maxResults"),
        ("ListClusters", {"maxResults": 2**64}, "maxResults"),
        ("RunTask", {"taskDefinition": "known", "count": "2"}, "count"),
        ("RunTask", {"taskDefinition": "known", "count": None, "startedBy": 5}, "startedBy"),
        ("RegisterTaskDefinition", {"family": "t", "containerDefinitions": {"name": "x"}}, "containerDefinitions"),
        ("RegisterTaskDefinition", {"family": "t", "containerDefinitions": [{"name": "x", "image": "y",
                                                                             "memory": "lots"}]}, "memory"),
        ("DescribeTasks", {"tasks": "abc"}, "tasks"),
        ("DescribeClusters", {"clusters": [1, 2]}, "clusters"),
        ("TagResource", {"resourceArn": cluster_arn("default"), "tags": [{"key": 1, "value": "v"}]}, "key"),
        ("ListTasks", {"desiredStatus": ["RUNNING"]}, "desiredStatus"),
    ]
    before = clusters()
    for op, body, member in cases:
        r = raw_call("ecs", op, body)
        msg = (r.json or {}).get("message", "") if isinstance(r.json, dict) else ""
        check(r.status == 400 and r.error_type in {"InvalidParameterException", "ClientException",
                                                   "SerializationException", "ValidationException"}
              and member in msg, f"{op} {body}: HTTP 400, InvalidParameter/Client/Serialization, "
              f"a message naming {member!r}", r)
    for op, body, member in [
        ("GetLogEvents", {"logGroupName": 7, "logStreamName": "x"}, "logGroupName"),
        ("FilterLogEvents", {"logGroupName": "/x", "limit": "many"}, "limit"),
        ("DescribeLogStreams", {"logGroupName": "/x", "descending": "yes"}, "descending"),
    ]:
        r = raw_call("logs", op, body)
        msg = (r.json or {}).get("message", "") if isinstance(r.json, dict) else ""
        check(r.status == 400 and r.error_type and member in msg,
              f"{op} {body}: HTTP 400 with __type and a message naming {member!r}", r)
    eq(clusters(), before, "no cluster created by rejected requests")
    expect_error("RegisterTaskDefinition without family", {"ClientException", "InvalidParameterException"},
                 ecs_raw.register_task_definition, containerDefinitions=ECHO)
    expect_error("RunTask without taskDefinition", {"ClientException", "InvalidParameterException"},
                 ecs_raw.run_task)


@step
def signatures():
    before = clusters()
    bad = client("ecs", secret="not-the-secret")
    expect_error("wrong secret key", "InvalidSignatureException", bad.create_cluster,
                       clusterName="sig-wrong", status={400, 403})
    unknown = client("ecs", key="AKIDUNKNOWN", secret="x")
    expect_error("unknown access key", "UnrecognizedClientException", unknown.create_cluster,
                 clusterName="sig-unknown", status={400, 403})
    logs_bad = client("logs", secret="nope")
    expect_error("wrong secret key (logs)", "InvalidSignatureException", logs_bad.describe_log_groups,
                 status={400, 403})
    # Expired: signed 20 minutes ago.
    old = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) - datetime.timedelta(minutes=20)
    r = raw_call("ecs", "CreateCluster", {"clusterName": "sig-old"}, when=old)
    check(r.status in (400, 403), "a request signed 20 min ago is refused", r)
    check(r.error_type in ("InvalidSignatureException", "SignatureDoesNotMatch", "AccessDeniedException"),
          "expired signature __type", r)
    future = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None) + datetime.timedelta(minutes=20)
    r = raw_call("ecs", "CreateCluster", {"clusterName": "sig-future"}, when=future)
    check(r.status in (400, 403) and r.error_type, "a request signed 20 min in the future is refused", r)
    # Missing Authorization header.
    body = b'{"clusterName": "sig-none"}'
    r = raw_request({"Content-Type": "application/x-amz-json-1.1",
                     "X-Amz-Target": f"{ECS_PREFIX}.CreateCluster"}, body)
    check(r.status in (400, 403), "unsigned request refused", r)
    eq(r.error_type, "MissingAuthenticationTokenException", "unsigned request __type")
    # Signed, then the body changed.
    h = sign("ecs", "CreateCluster", b'{"clusterName": "sig-a"}')
    r = raw_request(h, b'{"clusterName": "sig-b"}')
    check(r.status in (400, 403), "tampered body refused", r)
    eq(r.error_type, "InvalidSignatureException", "tampered body __type")
    # Signed for the logs service but sent to an ECS target.
    h = sign("logs", "CreateCluster", body)
    h["X-Amz-Target"] = f"{ECS_PREFIX}.CreateCluster"
    r = raw_request(h, body)
    check(400 <= r.status < 500 and r.error_type, "ECS target with a logs-scoped signature refused", r)
    # Unsigned amz-sdk-* headers added after signing are fine (botocore does that).
    h = sign("ecs", "ListClusters", b"{}")
    h["amz-sdk-invocation-id"] = "abc"
    h["amz-sdk-request"] = "attempt=1; max=1"
    r = raw_request(h, b"{}")
    eq(r.status, 200, "extra unsigned headers are ignored")
    eq(clusters(), before, "refused requests created no cluster")


@step
def protocol_errors():
    def assert_4xx(r, what, types=None):
        check(400 <= r.status < 500, f"{what}: 4xx", r)
        check(r.error_type, f"{what}: JSON body with __type", r)
        check(isinstance(r.json, dict) and (r.json.get("message") or r.json.get("Message")),
              f"{what}: a message", r)
        if types:
            check(r.error_type in types, f"{what}: __type in {sorted(types)}", r)

    assert_4xx(raw_call("ecs", "LaunchRockets", {}), "unknown ECS operation",
               {"UnknownOperationException", "InvalidAction"})
    assert_4xx(raw_call("logs", "PutRetentionPolicyX", {}), "unknown Logs operation",
               {"UnknownOperationException", "InvalidAction"})
    assert_4xx(raw_call("ecs", "ListClusters", b"{not json"), "malformed JSON",
               {"SerializationException", "InvalidParameterException", "ClientException"})
    assert_4xx(raw_call("ecs", "ListClusters", b"[1,2]"), "a JSON array body")
    assert_4xx(raw_call("ecs", "ListClusters", b"\xff\xfe\x00"), "non-UTF-8 body")
    h = sign("ecs", "ListClusters", b"{}")
    del h["X-Amz-Target"]
    assert_4xx(raw_request(h, b"{}"), "no X-Amz-Target")
    h = sign("ecs", "ListClusters", b"{}", extra_headers={"X-Amz-Target": "NoSuchService_2020.Op"})
    assert_4xx(raw_request(h, b"{}"), "unknown target prefix")
    r = raw_request({}, b"", method="GET")
    check(400 <= r.status < 500, "GET / is a 4xx", r)
    # An empty body is `{}` to the server? botocore always sends `{}`; an empty body may
    # be refused, but never with a 5xx.
    r = raw_call("ecs", "ListClusters", b"")
    check(r.status == 200 or (400 <= r.status < 500 and r.error_type), "empty body: 200 or a 4xx error", r)
    # Success carries a request id, and so do errors.
    ok = raw_call("ecs", "ListClusters", {})
    eq(ok.status, 200, "ListClusters ok")
    check(ok.headers.get("x-amzn-requestid"), "x-amzn-RequestId on success", ok.headers)
    bad = raw_call("ecs", "ListClusters", {"maxResults": 0})
    check(bad.headers.get("x-amzn-requestid"), "x-amzn-RequestId on an error", bad.headers)
    eq(bad.headers.get("content-type"), "application/x-amz-json-1.1", "error content type")


@step
def over_size_limit():
    big = json.dumps({"clusterName": "big", "settings": [{"name": "containerInsights", "value": "x" * (12 << 20)}]})
    try:
        r = raw_call("ecs", "CreateCluster", big, timeout=20)
        check(400 <= r.status < 500 and r.error_type, "a 12 MiB body gets a 4xx JSON error", r)
    except Hang as e:
        check(False, "a 12 MiB body: no answer", str(e))
    check(cluster_arn("big") not in clusters(), "the oversized request had no effect")
    eq(raw_call("ecs", "ListClusters", {}).status, 200, "the server answers afterwards")


main()
