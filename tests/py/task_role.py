"""Task roles, the execution role and container secrets under `serve` (issue 13 items 1,
2, 5): a SecureString parameter and a JSON secret (one read by JSON key) reach the guest's
environment through an execution role that allows them, and are never shown; the guest
fetches its role credentials over wasi:http (and wasi:sockets), which act with exactly the
role's permissions and stop working when the task stops; another task cannot fetch them;
a denied or missing secret stops the task with ECS's reason; a role that does not exist or
does not trust ecs-tasks.amazonaws.com is refused at RunTask and CreateService.

Arguments: the parameter's value, the secret's JSON key's value (the Rust side checks
that neither appears in the host's output or in the state database in the clear)."""

import json

from wg import *  # noqa: F403

PARAM_VALUE, SECRET_VALUE = ARGS[0], ARGS[1]
GROUP = "/wg/task-role"
CLUSTER = "tr"
iam = client("iam")
ssm = client("ssm")
sm = client("secretsmanager")
S = {}

TRUST_TASKS = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ecs-tasks.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})
TRUST_EC2 = json.dumps({
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}],
})


# The awslogs driver writes as the execution role: CreateLogStream and PutLogEvents.
LOGS = {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": f"arn:aws:logs:*:*:log-group:{GROUP}:*"}


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def results(task_arn):
    """The reader's lines: `RESULT <action> <status> <body>` -> {action: (status, body)} and
    `ENV <name>=<value>` -> {name: value}."""
    out, env = {}, {}
    try:
        r = logs.get_log_events(logGroupName=GROUP, logStreamName=f"p/reader/{task_id(task_arn)}", startFromHead=True)
    except ClientError:
        return out, env
    for e in r["events"]:
        m = e["message"]
        if m.startswith("ENV "):
            k, _, v = m[4:].partition("=")
            env[k] = v
            continue
        parts = m.split(" ", 3)
        if len(parts) >= 3 and parts[0] == "RESULT":
            body = parts[3] if len(parts) == 4 else ""
            try:
                body = json.loads(body)
            except ValueError:
                pass
            out[parts[1]] = (parts[2], body)
    return out, env


def reader(command, **extra):
    # A short stopTimeout: StopTask ends the sleeping reader at once.
    return container("reader", "metadata-reader", command, log_group=GROUP, stopTimeout=2, **extra)


def stopped(arn):
    wait_tasks("stopped", [arn], cluster=CLUSTER)
    return describe_task(arn, cluster=CLUSTER)


def failed_to_start(family, *statements):
    """Runs `family` with the execution role's policy set to `statements`: the task must
    stop before any container ran (TaskFailedToStart). Returns (task, stoppedReason)."""
    iam.put_role_policy(RoleName="tr-exec", PolicyName="read-secrets", PolicyDocument=policy(*statements))
    task = run_task(family, cluster=CLUSTER)[0]
    t = stopped(task["taskArn"])
    eq(t.get("stopCode"), "TaskFailedToStart", "stopCode")
    eq(t["containers"][0].get("exitCode"), None, "no container ran")
    return t, t.get("stoppedReason", "")


def as_task(creds, service):
    return boto3.session.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["Token"],
        region_name=REGION,
    ).client(service, endpoint_url=ENDPOINT, config=config())


@step
def setup():
    ecs.create_cluster(clusterName=CLUSTER)
    S["param_arn"] = ssm.put_parameter(Name="/tr/db-pw", Value=PARAM_VALUE, Type="SecureString") and \
        f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/tr/db-pw"
    created = sm.create_secret(Name="tr/api", SecretString=json.dumps({"key": SECRET_VALUE, "user": "svc"}))
    S["secret_arn"] = created["ARN"]
    S["exec"] = iam.create_role(RoleName="tr-exec", AssumeRolePolicyDocument=TRUST_TASKS)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="tr-exec", PolicyName="read-secrets",
        PolicyDocument=policy(
            {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": S["param_arn"]},
            {"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:tr/api-*"},
            LOGS,
        ),
    )
    S["app"] = iam.create_role(RoleName="tr-app", AssumeRolePolicyDocument=TRUST_TASKS)["Role"]["Arn"]
    iam.put_role_policy(
        RoleName="tr-app", PolicyName="list-clusters",
        PolicyDocument=policy({"Effect": "Allow", "Action": ["ecs:ListClusters", "ecs:DescribeClusters"], "Resource": "*"}),
    )
    S["ec2"] = iam.create_role(RoleName="tr-ec2", AssumeRolePolicyDocument=TRUST_EC2)["Role"]["Arn"]
    # Partial ARN without the random suffix, then :json-key:version-stage:version-id.
    S["secrets"] = [
        {"name": "DB_PW", "valueFrom": "/tr/db-pw"},
        {"name": "API_KEY", "valueFrom": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:tr/api:key:AWSCURRENT:"},
    ]


@step
def registration_rules():
    err = expect_error(
        "secrets without executionRoleArn", ["ClientException"], ecs.register_task_definition,
        **taskdef("tr-norole", [reader(["env"], secrets=S["secrets"])]),
    )
    if err:
        msg = err[1]
        check("executionRoleArn" in msg and "containerDefinitions[0].secrets" in msg, "names the fields", msg)
    err = expect_error(
        "a valueFrom that is no name nor ARN", ["ClientException"], ecs.register_task_definition,
        **taskdef("tr-bad", [reader(["env"], secrets=[{"name": "X", "valueFrom": "arn:aws:s3:::bucket/key"}])],
                  executionRoleArn=S["exec"]),
    )
    if err:
        msg = err[1]
        check("containerDefinitions[0].secrets[0].valueFrom" in msg, "names the valueFrom", msg)


@step
def roles_that_cannot_be_assumed_are_refused():
    for family, role in [("tr-missing", f"arn:aws:iam::{ACCOUNT}:role/tr-nobody"), ("tr-untrusted", S["ec2"])]:
        register(family, [reader(["env"])], taskRoleArn=role)
        err = expect_error(f"RunTask with {role}", ["ClientException"], ecs.run_task,
                           cluster=CLUSTER, taskDefinition=family, launchType="FARGATE")
        if err:
            check(role in err[1], "names the role", err[1])
        err = expect_error(f"CreateService with {role}", ["ClientException"], ecs.create_service,
                           cluster=CLUSTER, serviceName=f"{family}-svc", taskDefinition=family, desiredCount=1,
                           launchType="FARGATE")
        if err:
            check(role in err[1], "names the role", err[1])


@step
def the_guest_sees_its_secrets_and_fetches_its_credentials():
    register(
        "tr-app",
        [reader(["envrev:DB_PW", "envrev:API_KEY", "env", "creds", "tcp-creds", "creds-none", "creds-bad",
                 "get:/task", "get:/stats", "sleep:600000"], secrets=S["secrets"])],
        taskRoleArn=S["app"], executionRoleArn=S["exec"],
    )
    task = run_task("tr-app", cluster=CLUSTER)[0]
    S["a"] = task["taskArn"]
    got = wait_until(lambda: (lambda r: r if "get:/stats" in r[0] else None)(results(S["a"])),
                     "the reader fetched its credentials and metadata", timeout=60, interval=0.2)
    r, env = got
    S["a_results"], S["a_env"] = r, env
    eq(env.get("DB_PW"), PARAM_VALUE[::-1], "the SecureString parameter in the environment")
    eq(env.get("API_KEY"), SECRET_VALUE[::-1], "the secret's JSON key in the environment")
    check(env.get("AWS_CONTAINER_CREDENTIALS_FULL_URI", "").startswith("http://127.0.0.1:"), "a loopback full URI", env)
    check(len(env.get("AWS_CONTAINER_AUTHORIZATION_TOKEN", "")) >= 32, "a token", env)
    status, creds = r.get("creds", (None, None))
    eq(status, "200", "credentials over wasi:http")
    S["creds"] = creds
    tid = task_id(S["a"])
    eq(creds.get("RoleArn"), S["app"], "RoleArn")
    for k in ["AccessKeyId", "SecretAccessKey", "Token", "Expiration"]:
        check(creds.get(k), f"{k} is there", creds)
    eq(r.get("tcp-creds", (None,))[0], "200", "credentials over wasi:sockets")
    eq(r.get("creds-none", (None,))[0], "401", "no token")
    eq(r.get("creds-bad", (None,))[0], "403", "a wrong token")
    status, md = r.get("get:/task", (None, None))
    eq(status, "200", "metadata /task")
    eq(md.get("TaskARN"), S["a"], "TaskARN")
    eq(r.get("get:/stats", (None,))[0], "200", "metadata /stats")
    me = as_task(creds, "sts").get_caller_identity()
    eq(me["Arn"], f"arn:aws:sts::{ACCOUNT}:assumed-role/tr-app/{tid}", "the session's ARN")


@step
def the_credentials_have_exactly_the_roles_permissions():
    c = S["creds"]
    task_ecs = as_task(c, "ecs")
    check(cluster_arn(CLUSTER) in task_ecs.list_clusters()["clusterArns"], "ListClusters is allowed")
    task_ecs.describe_clusters(clusters=[CLUSTER])
    expect_error("ListTaskDefinitions is not in the role's policy", ["AccessDeniedException"],
                 task_ecs.list_task_definitions, status={400, 403})
    expect_error("RunTask is not in the role's policy", ["AccessDeniedException"],
                 task_ecs.run_task, cluster=CLUSTER, taskDefinition="tr-app", status={400, 403})
    expect_error("ssm is not in the role's policy", ["AccessDeniedException"],
                 as_task(c, "ssm").get_parameter, Name="/tr/db-pw", WithDecryption=True, status={400, 403})


@step
def describe_never_shows_the_values():
    td = ecs.describe_task_definition(taskDefinition="tr-app")
    text = json.dumps(td, default=str)
    check(PARAM_VALUE not in text and SECRET_VALUE not in text, "DescribeTaskDefinition holds no value")
    eq(td["taskDefinition"]["containerDefinitions"][0]["secrets"], S["secrets"], "secrets as registered (valueFrom)")
    text = json.dumps(ecs.describe_tasks(cluster=CLUSTER, tasks=[S["a"]]), default=str)
    check(PARAM_VALUE not in text and SECRET_VALUE not in text, "DescribeTasks holds no value")


@step
def another_task_cannot_fetch_the_first_tasks_credentials():
    a = describe_task(S["a"], cluster=CLUSTER)
    addr = a["containers"][0]["networkInterfaces"][0]["privateIpv4Address"]
    token = S["a_env"]["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
    own = S["a_env"]["AWS_CONTAINER_CREDENTIALS_FULL_URI"]
    other = f"http://{addr}:51679/v2/credentials"
    task = run_task("tr-app", cluster=CLUSTER, overrides={"containerOverrides": [
        {"name": "reader", "command": [f"fetch:{own}|{token}", f"fetch:{other}|{token}", f"tcpurl:{other}"]},
    ]})[0]
    t = stopped(task["taskArn"])
    eq(t["containers"][0].get("exitCode"), 0, "the second reader exited 0")
    r, _ = results(task["taskArn"])
    eq(r.get(f"fetch:{own}|{token}", (None,))[0], "403", "the first task's token at the second task's endpoint")
    status, body = r.get(f"fetch:{other}|{token}", (None, None))
    check(status != "200" and S["creds"]["AccessKeyId"] not in json.dumps(body), "the first task's endpoint is unreachable (wasi:http)", (status, body))
    status, body = r.get(f"tcpurl:{other}", (None, None))
    check(status != "200", "the first task's endpoint is unreachable (wasi:sockets)", (status, body))


@step
def the_credentials_stop_working_when_the_task_stops():
    c = S["creds"]
    ecs.stop_task(cluster=CLUSTER, task=S["a"], reason="done")
    # Waiting on the state, not a clock: from STOPPED on, the session is gone.
    stopped(S["a"])
    expect_error("the stopped task's credentials", ["UnrecognizedClientException", "InvalidClientTokenId", "ExpiredTokenException", "ExpiredToken"],
                 as_task(c, "ecs").list_clusters, status={400, 403})


@step
def a_denied_secret_stops_the_task_with_ecs_reason():
    _, reason = failed_to_start(
        "tr-app", {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": S["param_arn"]}, LOGS)
    check(reason.startswith("ResourceInitializationError: unable to pull secrets or registry auth: ")
          and "AccessDeniedException" in reason and "secretsmanager:GetSecretValue" in reason
          and "tr/api" in reason, "ECS's reason naming the secret", reason)
    check(SECRET_VALUE not in reason, "no value in the reason")


@step
def an_execution_role_that_cannot_write_logs_stops_the_task():
    t, reason = failed_to_start(
        "tr-app", {"Effect": "Allow", "Action": ["ssm:GetParameters", "secretsmanager:GetSecretValue"], "Resource": "*"})
    check(reason.startswith("ResourceInitializationError: failed to validate logger args")
          and "AccessDeniedException" in reason and "logs:CreateLogStream" in reason
          and f"log-group:{GROUP}:log-stream:p/reader/{task_id(t['taskArn'])}" in reason,
          "ECS's reason naming the stream", reason)


@step
def a_missing_secret_stops_the_task_with_ecs_reason():
    register(
        "tr-missing-secret",
        [reader(["env"], secrets=[{"name": "NOPE", "valueFrom": "/tr/missing"}])],
        executionRoleArn=S["exec"],
    )
    _, reason = failed_to_start("tr-missing-secret", {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*"}, LOGS)
    check(reason.startswith("ResourceInitializationError: unable to pull secrets or registry auth: ")
          and "invalid ssm parameters: /tr/missing" in reason, "ECS's reason naming the parameter", reason)


@step
def log_secret_options_are_read_like_secrets():
    log_secret = reader(["env"])
    log_secret["logConfiguration"]["secretOptions"] = [{"name": "api-key", "valueFrom": "/tr/missing-log-key"}]
    # As ECS: a secret option needs the execution role to read it, and a valueFrom to read.
    expect_error("secretOptions without executionRoleArn", "ClientException", ecs.register_task_definition,
                 **taskdef("tr-log-secret", [log_secret]),
                 contains="containerDefinitions[0].logConfiguration.secretOptions")
    register("tr-log-secret", [log_secret], executionRoleArn=S["exec"])
    _, reason = failed_to_start("tr-log-secret", {"Effect": "Allow", "Action": "ssm:GetParameters", "Resource": "*"}, LOGS)
    check(reason.startswith("ResourceInitializationError: unable to pull secrets or registry auth: ")
          and "/tr/missing-log-key" in reason, "ECS's reason naming the log option's parameter", reason)


main()
