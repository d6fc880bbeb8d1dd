"""Shared helpers for the API end-to-end scenarios in tests/py.

Every scenario runs as `target/pyenv/bin/python tests/py/<scenario>.py <port> [args...]`
against a `wasmgate serve` on 127.0.0.1:<port> (started by the Rust test). The Rust side
sets the AWS environment (key test/test, us-east-1, no config files) and
WASMGATE_GUESTS_DIR (where host/build.rs put the guest components).

A scenario is a list of steps (`@step`). A failed check is recorded and the step goes on;
an exception ends its step. Steps run in order, and the script exits 1 if anything failed,
after printing every failure, so one run reports as many host bugs as it can find.
"""

import datetime
import json
import os
import re
import socket
import sys
import time
import traceback

import boto3
import botocore.auth
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

PORT = int(sys.argv[1])
ARGS = sys.argv[2:]
ENDPOINT = f"http://127.0.0.1:{PORT}"
GUESTS = os.environ["WASMGATE_GUESTS_DIR"]
REGION = "us-east-1"
ACCOUNT = "000000000000"

ECS_PREFIX = "AmazonEC2ContainerServiceV20141113"
LOGS_PREFIX = "Logs_20140328"

TASK_ARN_RE = re.compile(
    r"^arn:aws:ecs:us-east-1:000000000000:task/(?P<cluster>[A-Za-z0-9_-]+)/(?P<id>[0-9a-f]{32})$"
)
LIFECYCLE = [
    "PROVISIONING",
    "PENDING",
    "ACTIVATING",
    "RUNNING",
    "DEACTIVATING",
    "STOPPING",
    "DEPROVISIONING",
    "STOPPED",
]


# ----------------------------------------------------------------------------- clients


def config(**kw):
    """No retries (a 5xx must fail at once), short timeouts (a hang must fail)."""
    return Config(
        retries={"total_max_attempts": 1},
        connect_timeout=5,
        read_timeout=30,
        **kw,
    )


def client(service, validate=True, key="test", secret="test"):
    session = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, region_name=REGION
    )
    return session.client(
        service, endpoint_url=ENDPOINT, config=config(parameter_validation=validate)
    )


ecs = client("ecs")
logs = client("logs")
# botocore checks types, required members and `min` on the client side; these send anyway.
ecs_raw = client("ecs", validate=False)
logs_raw = client("logs", validate=False)

WAIT = {"Delay": 1, "MaxAttempts": 60}


def wait_tasks(state, arns, cluster=None):
    """The botocore waiter `tasks_<state>` polling every second."""
    kw = {"tasks": arns, "WaiterConfig": WAIT}
    if cluster:
        kw["cluster"] = cluster
    ecs.get_waiter(f"tasks_{state}").wait(**kw)


def guest(name):
    return os.path.join(GUESTS, f"{name}.wasm")


def cluster_arn(name):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/{name}"


def taskdef_arn(family, revision):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:task-definition/{family}:{revision}"


def task_id(arn):
    return arn.rsplit("/", 1)[-1]


def container(name, guest_name, command=None, log_group=None, prefix="p", **extra):
    c = {"name": name, "image": guest(guest_name), "essential": True}
    if command is not None:
        c["command"] = command
    if log_group:
        c["logConfiguration"] = {
            "logDriver": "awslogs",
            "options": {
                "awslogs-group": log_group,
                "awslogs-region": REGION,
                "awslogs-stream-prefix": prefix,
                "awslogs-create-group": "true",
            },
        }
    c.update(extra)
    return c


def taskdef(family, containers, cpu="256", memory="512", **extra):
    d = {
        "family": family,
        "requiresCompatibilities": ["FARGATE"],
        "networkMode": "awsvpc",
        "cpu": cpu,
        "memory": memory,
        "containerDefinitions": containers,
    }
    d.update(extra)
    return d


def register(family, containers, **kw):
    return ecs.register_task_definition(**taskdef(family, containers, **kw))["taskDefinition"]


def run_task(definition, cluster=None, **kw):
    """RunTask the way the Fargate walkthrough does; asserts no failures."""
    args = {
        "taskDefinition": definition,
        "launchType": "FARGATE",
        "networkConfiguration": {
            "awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}
        },
    }
    if cluster:
        args["cluster"] = cluster
    args.update(kw)
    r = ecs.run_task(**args)
    check(not r.get("failures"), f"run_task({definition}) failures", r.get("failures"))
    return r["tasks"]


def describe_task(arn, cluster=None, **kw):
    args = {"tasks": [arn]}
    if cluster:
        args["cluster"] = cluster
    args.update(kw)
    r = ecs.describe_tasks(**args)
    check(len(r["tasks"]) == 1, f"describe_tasks({arn}) finds it", r)
    return r["tasks"][0]


def paginate(fn, result_key, token_key="nextToken", in_token="nextToken", max_pages=200, **kw):
    """Pages through `fn` by hand: every token new, the last page without one."""
    items, seen, token = [], set(), None
    for _ in range(max_pages):
        args = dict(kw)
        if token is not None:
            args[in_token] = token
        page = fn(**args)
        items.extend(page.get(result_key, []))
        token = page.get(token_key)
        if not token:
            return items
        check(token not in seen, f"{fn.__name__}: token repeated", token)
        if token in seen:
            return items
        seen.add(token)
    check(False, f"{fn.__name__}: pagination did not end after {max_pages} pages")
    return items


# ----------------------------------------------------------------------------- raw HTTP


def sign(service, operation, body, key="test", secret="test", when=None, extra_headers=None):
    """Headers of a request signed by botocore's own SigV4 signer (optionally at `when`)."""
    prefix = ECS_PREFIX if service == "ecs" else LOGS_PREFIX
    headers = {
        "Content-Type": "application/x-amz-json-1.1",
        "X-Amz-Target": f"{prefix}.{operation}",
    }
    headers.update(extra_headers or {})
    req = AWSRequest(method="POST", url=ENDPOINT + "/", data=body, headers=headers)
    saved = botocore.auth.get_current_datetime
    if when is not None:
        botocore.auth.get_current_datetime = lambda: when
    try:
        SigV4Auth(Credentials(key, secret), service, REGION).add_auth(req)
    finally:
        botocore.auth.get_current_datetime = saved
    return dict(req.headers.items())


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        try:
            self.json = json.loads(body) if body else None
        except ValueError:
            self.json = None

    @property
    def error_type(self):
        if isinstance(self.json, dict):
            t = self.json.get("__type")
            if isinstance(t, str):
                return t.split(":")[0].rsplit("#", 1)[-1]
        return None

    def __repr__(self):
        return f"<{self.status} {self.body[:300]!r}>"


class Hang(Exception):
    pass


def raw_request(headers, body, timeout=10.0, method="POST", path="/"):
    """One HTTP/1.1 request on a fresh connection, sent and read by hand, so that any
    bytes can be sent and a slow answer is seen as a hang. Returns a Response."""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{PORT}"]
    for k, v in headers.items():
        if k.lower() not in ("host", "content-length", "connection"):
            lines.append(f"{k}: {v}")
    lines += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
    head = "\r\n".join(lines).encode()
    s = socket.create_connection(("127.0.0.1", PORT), timeout=5)
    s.settimeout(timeout)
    deadline = time.monotonic() + timeout
    try:
        try:
            s.sendall(head + body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (e.g. a body over its limit): read that answer
        data = b""
        while True:
            if time.monotonic() > deadline:
                raise Hang(f"no complete answer within {timeout}s")
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                raise Hang(f"no complete answer within {timeout}s (got {data[:200]!r})")
            except ConnectionResetError:
                break
            if not chunk:
                break
            data += chunk
            if _complete(data):
                break
    finally:
        s.close()
    return _parse(data)


def _split(data):
    i = data.find(b"\r\n\r\n")
    if i < 0:
        return None, None
    return data[:i].decode("latin-1"), data[i + 4 :]


def _complete(data):
    head, rest = _split(data)
    if head is None:
        return False
    hdrs = {}
    for line in head.split("\r\n")[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "content-length" in hdrs:
        return len(rest) >= int(hdrs["content-length"])
    if "chunked" in hdrs.get("transfer-encoding", ""):
        return rest.endswith(b"0\r\n\r\n")
    return False


def _parse(data):
    head, rest = _split(data)
    if head is None:
        raise AssertionError(f"no HTTP response (got {data[:200]!r})")
    status_line, *hdr_lines = head.split("\r\n")
    status = int(status_line.split()[1])
    hdrs = {}
    for line in hdr_lines:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    if "chunked" in hdrs.get("transfer-encoding", ""):
        body, rest2 = b"", rest
        while True:
            size_line, _, rest2 = rest2.partition(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            if size == 0:
                break
            body += rest2[:size]
            rest2 = rest2[size + 2 :]
    elif "content-length" in hdrs:
        body = rest[: int(hdrs["content-length"])]
    else:
        body = rest
    return Response(status, hdrs, body)


def raw_call(service, operation, body, timeout=10.0, **sign_kw):
    """A signed AWS JSON 1.1 call with any body (a dict is JSON-encoded, bytes are sent
    as they are)."""
    if not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    return raw_request(sign(service, operation, body, **sign_kw), body, timeout=timeout)


# ----------------------------------------------------------------------------- checks

FAILURES = []
STEPS = []
_current = ["-"]


def check(cond, what, detail=None):
    if not cond:
        msg = f"[{_current[0]}] {what}"
        if detail is not None:
            msg += f"\n      got: {_short(detail)}"
        FAILURES.append(msg)
        print("FAIL " + msg, flush=True)
    return bool(cond)


def eq(actual, expected, what):
    return check(actual == expected, f"{what}: expected {expected!r}", actual)


def _short(x, n=1500):
    s = x if isinstance(x, str) else repr(x)
    return s if len(s) <= n else s[:n] + f"... ({len(s)} chars)"


def error_of(fn, *args, **kwargs):
    """Calls fn expecting a ClientError; returns (code, message, http status), or None
    (after recording a failure) if the call succeeded."""
    try:
        r = fn(*args, **kwargs)
    except ClientError as e:
        err = e.response.get("Error", {})
        return (
            err.get("Code"),
            err.get("Message") or "",
            e.response.get("ResponseMetadata", {}).get("HTTPStatusCode"),
        )
    check(False, f"{getattr(fn, '__name__', fn)} should have failed", r)
    return None


def expect_error(what, codes, fn, *args, status=400, contains=None, **kwargs):
    """fn(...) must raise ClientError with a code in `codes` (a str or a set), the HTTP
    status `status` (or one of a set), and a message containing `contains`."""
    if isinstance(codes, str):
        codes = {codes}
    got = error_of(fn, *args, **kwargs)
    if got is None:
        check(False, f"{what}: expected {sorted(codes)}, the call succeeded")
        return None
    code, message, http = got
    check(code in codes, f"{what}: error code in {sorted(codes)}", (code, message, http))
    statuses = status if isinstance(status, (set, tuple, list)) else {status}
    check(http in statuses, f"{what}: HTTP status {sorted(statuses)}", (code, message, http))
    if contains:
        check(contains in message, f"{what}: message contains {contains!r}", message)
    check(message.strip() != "", f"{what}: error has a message", (code, message))
    return got


def wait_until(pred, what, timeout=30.0, interval=0.05):
    """Polls `pred` (a server query) until it returns something truthy."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = pred()
        if last:
            return last
        time.sleep(interval)
    check(False, f"timed out after {timeout}s waiting for {what}", last)
    return None


def is_epoch_seconds(v):
    """ECS timestamps come back as numbers of seconds (botocore gives datetimes)."""
    return isinstance(v, datetime.datetime) and abs(v.timestamp() - time.time()) < 3600


def is_epoch_ms(v):
    return isinstance(v, int) and not isinstance(v, bool) and abs(v / 1000 - time.time()) < 3600


def step(fn):
    STEPS.append(fn)
    return fn


def main():
    started = time.monotonic()
    for fn in STEPS:
        _current[0] = fn.__name__
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:  # noqa: BLE001 - any error is a failure of the step
            here = os.path.dirname(os.path.abspath(__file__))
            frames = [f for f in traceback.extract_tb(e.__traceback__) if f.filename.startswith(here)]
            detail = "".join(traceback.format_list(frames)).rstrip()
            if isinstance(e, ClientError):
                meta = e.response.get("ResponseMetadata", {})
                detail += f"\n      response: {e.response.get('Error')} HTTP {meta.get('HTTPStatusCode')}"
            FAILURES.append(f"[{fn.__name__}] raised {type(e).__name__}: {e}\n{detail}")
            print(f"FAIL [{fn.__name__}] raised {type(e).__name__}: {e}\n{detail}", flush=True)
        print(f"step {fn.__name__}: {time.monotonic() - t0:.2f}s", flush=True)
    _current[0] = "-"
    print(f"{len(STEPS)} steps in {time.monotonic() - started:.1f}s, {len(FAILURES)} failures")
    if FAILURES:
        print("\nFAILURES:\n" + "\n".join(" - " + f for f in FAILURES))
        sys.exit(1)
