"""Policies that reach into the sandbox (issue 12, item 5): a task whose role's policies name
`wasmgate:` actions is governed by them instead of the host's `[[network.rules]]`/`egress`.

- A role `netpol` denies `wasmgate:NetworkConnect` to the tasks of service `db` and of family
  `vault`, and allows it to the rest of 127.0.0.0/8; client tasks with that role reach the
  `cache` task (no `[[network.rules]]` entry would allow it), not `db` nor `vault`; a client
  without the role reaches none (today's rules); the host's loopback stays refused.
- A task's service is the one whose scheduler started it: a RunTask task labelled
  `group=service:db` is neither denied by the `db` deny nor allowed by a role `svcnet` that
  allows `wasmgate:DestinationService` `db` only; the real service's task is.
- `wasmgate:HttpRequest` with `wasmgate:DestinationHost`: a wasi:http task with the role
  fetches from one task's address and not from another's; a policy put while the task
  runs takes effect on its next request.

Prints `TARGETS <db> <vault> <cache>` for the Rust side, which checks the host's log names
the statement that decided.
"""

import json
import socket
import urllib.error
import urllib.request

from wg import *  # noqa: F403

iam = client("iam")
GROUP = "/wg/netpol"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/netpol"
SVC_ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/svcnet"
S = {}

TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
NET = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "NoDbService", "Effect": "Deny", "Action": "wasmgate:NetworkConnect", "Resource": "*",
         "Condition": {"StringEquals": {"wasmgate:DestinationService": "db"}}},
        {"Sid": "NoVaultFamily", "Effect": "Deny", "Action": "wasmgate:NetworkConnect", "Resource": "*",
         "Condition": {"StringEquals": {"wasmgate:DestinationFamily": "vault"}}},
        {"Sid": "Loopback", "Effect": "Allow", "Action": "wasmgate:NetworkConnect",
         "Resource": "arn:wasmgate:network:*:*:destination/*",
         "Condition": {"IpAddress": {"wasmgate:DestinationCidr": "127.0.0.0/8"}}},
    ],
}
# Allows connects to the tasks of service db of cluster default, and nothing else.
SVC_ONLY = {
    "Version": "2012-10-17",
    "Statement": [
        {"Sid": "DbServiceOnly", "Effect": "Allow", "Action": "wasmgate:NetworkConnect", "Resource": "*",
         "Condition": {"StringEquals": {"wasmgate:DestinationService": "db"},
                       "ArnEquals": {"wasmgate:DestinationCluster": f"arn:aws:ecs:{REGION}:{ACCOUNT}:cluster/default"}}},
    ],
}


def address(task):
    return task["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]


def echo_server(family):
    register(family, [container("echo", "tcp-echo", ["7000"], portMappings=[{"containerPort": 7000}])])


def client_outcome(family, target):
    """Runs one tcp-client task of `family` against `target`; its `reply`/`error` line."""
    task = run_task(family, overrides={"containerOverrides": [{"name": "client", "command": [target, "knock"]}]})[0]
    wait_tasks("stopped", [task["taskArn"]])
    stream = f"p/client/{task_id(task['taskArn'])}"
    events = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
    for e in events:
        if e["message"].startswith(("reply ", "error kind=")):
            return e["message"]
    return f"no outcome in {[e['message'] for e in events]}"


@step
def a_role_with_wasmgate_statements():
    iam.create_role(RoleName="netpol", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="netpol", PolicyName="net", PolicyDocument=json.dumps(NET))
    client_def = [container("client", "tcp-client", ["127.0.0.1:1"], log_group=GROUP,
                           environment=[{"name": "RETRIES", "value": "20"}, {"name": "RETRY_MS", "value": "100"}])]
    register("client", client_def, taskRoleArn=ROLE_ARN)
    iam.create_role(RoleName="svcnet", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(RoleName="svcnet", PolicyName="svc", PolicyDocument=json.dumps(SVC_ONLY))
    register("client-svc", client_def, taskRoleArn=SVC_ROLE_ARN)
    register("client-norole", client_def)


@step
def sibling_tasks_by_service_and_family():
    for family in ("db", "vault", "cache"):
        echo_server(family)
    ecs.create_service(serviceName="db", taskDefinition="db", desiredCount=1, launchType="FARGATE",
                       networkConfiguration={"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}})
    # A caller's RunTask may label its task with the service's group: a label only.
    arns = [run_task(f)[0]["taskArn"] for f in ("vault", "cache")]
    arns.append(run_task("cache", group="service:db")[0]["taskArn"])
    wait_until(lambda: [a for a in ecs.list_tasks(serviceName="db")["taskArns"] if a not in arns],
               "the db service started a task", timeout=60)
    db = [a for a in ecs.list_tasks(serviceName="db")["taskArns"] if a not in arns][0]
    wait_tasks("running", arns + [db])
    tasks = {t["taskArn"]: t for t in ecs.describe_tasks(tasks=arns + [db])["tasks"]}
    eq(tasks[arns[2]]["group"], "service:db", "RunTask keeps the group it was given")
    S["vault"], S["cache"], S["spoof"] = (address(tasks[a]) for a in arns)
    S["db"] = address(tasks[db])
    S["servers"] = arns
    print(f"TARGETS {S['db']} {S['vault']} {S['cache']}", flush=True)


@step
def the_role_decides_which_tasks_a_client_reaches():
    eq(client_outcome("client", f"{S['cache']}:7000"), "reply knock", "allowed: another family, no service")
    denied = "error kind=PermissionDenied"
    check(client_outcome("client", f"{S['db']}:7000").startswith(denied), "denied: the db service's task")
    check(client_outcome("client", f"{S['vault']}:7000").startswith(denied), "denied: the vault family's task")


@step
def a_run_task_group_is_not_the_service():
    eq(client_outcome("client", f"{S['spoof']}:7000"), "reply knock",
       "the db deny does not reach a RunTask task labelled service:db")
    eq(client_outcome("client-svc", f"{S['db']}:7000"), "reply knock",
       "allowed on DestinationService db: the service's own task")
    out = client_outcome("client-svc", f"{S['spoof']}:7000")
    check(out.startswith("error kind=PermissionDenied"),
          "allowed on DestinationService db: not a RunTask task labelled service:db", out)


@step
def without_the_role_todays_rules_decide():
    # No [[network.rules]] entry: another task's address is refused, as before.
    out = client_outcome("client-norole", f"{S['cache']}:7000")
    check(out.startswith("error kind=PermissionDenied"), "no role: the host's rules deny", out)


@step
def the_floor_stays():
    # A host service on the host's loopback: 127.0.0.0/8 is allowed by the policy, but a
    # task's 127.0.0.2 is its own loopback (its task address), where none of its
    # containers listens on that port: refused as a closed loopback port is, whatever a
    # policy says, and the host's service is never reached.
    with socket.socket() as s:
        s.bind(("127.0.0.2", 0))
        s.listen()
        out = client_outcome("client", f"127.0.0.2:{s.getsockname()[1]}")
    check(out.startswith("error kind=ConnectionRefused"), "host loopback refused", out)


def serves(ip):
    try:
        with urllib.request.urlopen(f"http://{ip}:8080/", timeout=5) as r:
            return r.status == 200
    except OSError:
        return False


def fetch(ip, url):
    try:
        with urllib.request.urlopen(f"http://{ip}:8080/fetch?url={url}", timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


@step
def http_requests_by_destination_host():
    for name in ("api-a", "api-b"):
        register(name, [container("web", "http-hello", [name], portMappings=[{"containerPort": 8080}])])
    register("fetcher", [container("web", "http-hello", ["fetcher"], portMappings=[{"containerPort": 8080}])],
             taskRoleArn=ROLE_ARN)
    arns = [run_task(f)[0]["taskArn"] for f in ("api-a", "api-b", "fetcher")]
    wait_tasks("running", arns)
    S["web"] = arns
    by_group = {t["group"]: address(t) for t in ecs.describe_tasks(tasks=arns)["tasks"]}
    a, b, fetcher = (by_group[f"family:{f}"] for f in ("api-a", "api-b", "fetcher"))
    wait_until(lambda: serves(fetcher), "the fetcher serves", timeout=30)
    # Governed (the role names wasmgate: actions), and nothing allows HttpRequest yet.
    status, body = fetch(fetcher, f"http://{a}:8080/")
    eq(status, 502, f"no HttpRequest statement yet: {body}")
    http = {
        "Version": "2012-10-17",
        "Statement": [{"Sid": "ApiA", "Effect": "Allow", "Action": "wasmgate:HttpRequest", "Resource": "*",
                       "Condition": {"StringEquals": {"wasmgate:DestinationHost": a}}}],
    }
    # Put while the task runs: its next request sees it.
    iam.put_role_policy(RoleName="netpol", PolicyName="http", PolicyDocument=json.dumps(http))
    status, body = fetch(fetcher, f"http://{a}:8080/")
    eq((status, body.strip()), (200, "fetched 200 hello from api-a path=/"), "allowed host")
    status, body = fetch(fetcher, f"http://{b}:8080/")
    eq(status, 502, f"another host: {body}")
    check("DestinationIpProhibited" in body, "the guest sees a prohibited destination", body)


@step
def stop_everything():
    svc = ecs.update_service(service="db", desiredCount=0)["service"]
    check(svc["desiredCount"] == 0, "db scaled in")
    for arn in S.get("servers", []) + S.get("web", []):
        ecs.stop_task(task=arn)
    ecs.delete_service(service="db", force=True)


main()
