"""Tasks with boto3: RunTask with overrides, the tasks_running / tasks_stopped waiters,
StopTask, exit codes, ListTasks filters, MISSING failures, task errors."""

from wg import *  # noqa: F403

GROUP = "/wg/tasks"
S = {}


@step
def register_definitions():
    register("echo", [container("main", "echo", ["hello"], log_group=GROUP)])
    register("exit42", [container("main", "exit-code", ["42"])])
    register("sleeper", [container("main", "sleep", ["60000"], stopTimeout=2)])


@step
def run_two_with_overrides():
    t0 = time.time()
    tasks = run_task(
        "echo",
        count=2,
        startedBy="e2e-tester",
        group="grp-echo",
        tags=[{"key": "purpose", "value": "e2e"}],
        overrides={
            "containerOverrides": [
                {
                    "name": "main",
                    "command": ["x", "y"],
                    "environment": [{"name": "FOO", "value": "bar"}],
                }
            ]
        },
    )
    eq(len(tasks), 2, "count=2 gives two tasks")
    S["echo"] = [t["taskArn"] for t in tasks]
    eq(len(set(S["echo"])), 2, "distinct task ARNs")
    for t in tasks:
        m = TASK_ARN_RE.match(t["taskArn"])
        check(m and m.group("cluster") == "default", "task ARN format task/default/<32 hex>", t["taskArn"])
        eq(t.get("clusterArn"), cluster_arn("default"), "clusterArn")
        eq(t.get("taskDefinitionArn"), taskdef_arn("echo", 1), "taskDefinitionArn")
        eq(t.get("desiredStatus"), "RUNNING", "desiredStatus at start")
        check(t.get("lastStatus") in LIFECYCLE, "lastStatus is a lifecycle state", t.get("lastStatus"))
        eq(t.get("startedBy"), "e2e-tester", "startedBy")
        eq(t.get("group"), "grp-echo", "group")
        eq(t.get("launchType"), "FARGATE", "launchType")
        eq((t.get("cpu"), t.get("memory")), ("256", "512"), "task cpu/memory strings")
        check(is_epoch_seconds(t.get("createdAt")), "createdAt", t.get("createdAt"))
        if "createdAt" in t:
            check(t["createdAt"].timestamp() >= t0 - 5, "createdAt is now", t["createdAt"])
        ov = (t.get("overrides") or {}).get("containerOverrides") or [{}]
        eq(ov[0].get("command"), ["x", "y"], "overrides echoed")
        eq([c.get("name") for c in t.get("containers", [])], ["main"], "containers")
        check(t.get("version") is None or isinstance(t.get("version"), int), "version is a long", t.get("version"))


@step
def wait_stopped_and_exit_code():
    wait_tasks("stopped", S["echo"])
    r = ecs.describe_tasks(tasks=S["echo"], include=["TAGS"])
    eq(len(r["tasks"]), 2, "both described")
    eq(r.get("failures", []), [], "no failures")
    for t in r["tasks"]:
        eq(t["lastStatus"], "STOPPED", "lastStatus")
        eq(t["desiredStatus"], "STOPPED", "desiredStatus")
        eq(t.get("stopCode"), "EssentialContainerExited", "stopCode")
        check(t.get("stoppedReason"), "a stoppedReason", t)
        c = t["containers"][0]
        eq(c.get("lastStatus"), "STOPPED", "container lastStatus")
        eq(c.get("exitCode"), 0, "container exitCode")
        check(c.get("containerArn", "").startswith(f"arn:aws:ecs:{REGION}:{ACCOUNT}:container/"),
              "containerArn", c)
        eq(c.get("taskArn"), t["taskArn"], "container taskArn")
        for k in ("createdAt", "startedAt", "stoppedAt"):
            check(is_epoch_seconds(t.get(k)), f"task {k}", t.get(k))
        if all(k in t for k in ("createdAt", "startedAt", "stoppedAt")):
            check(t["createdAt"] <= t["startedAt"] <= t["stoppedAt"], "createdAt <= startedAt <= stoppedAt",
                  (t["createdAt"], t["startedAt"], t["stoppedAt"]))
        eq(t.get("tags"), [{"key": "purpose", "value": "e2e"}], "tags with include=TAGS")
        # The overrides reached the guest.
        stream = f"p/main/{task_id(t['taskArn'])}"
        ev = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)["events"]
        lines = [e["message"] for e in ev]
        check("arg[1]=x" in lines and "arg[2]=y" in lines, "command override applied", lines)
        check("env FOO=bar" in lines, "environment override applied", lines)
        check("arg[1]=hello" not in lines, "the definition's command was replaced", lines)


@step
def exit_code_42():
    arn = run_task("exit42")[0]["taskArn"]
    wait_tasks("stopped", [arn])
    t = describe_task(arn)
    eq(t["containers"][0].get("exitCode"), 42, "exitCode 42")
    eq(t.get("stopCode"), "EssentialContainerExited", "stopCode")


@step
def running_then_stop():
    arn = run_task("sleeper", startedBy="sleepy")[0]["taskArn"]
    S["sleeper"] = arn
    wait_tasks("running", [arn])
    t = describe_task(arn)
    eq(t["lastStatus"], "RUNNING", "lastStatus after tasks_running")
    eq(t["containers"][0].get("lastStatus"), "RUNNING", "container RUNNING")
    check(is_epoch_seconds(t.get("startedAt")), "startedAt once RUNNING", t.get("startedAt"))
    check("stoppedAt" not in t, "no stoppedAt while running", t.get("stoppedAt"))

    c = ecs.describe_clusters(clusters=["default"])["clusters"][0]
    eq(c.get("runningTasksCount"), 1, "runningTasksCount while the sleeper runs")
    running = ecs.list_tasks(desiredStatus="RUNNING")["taskArns"]
    check(arn in running, "list_tasks(RUNNING) has the sleeper", running)
    check(not set(S["echo"]) & set(running), "stopped echo tasks are not RUNNING", running)
    default = ecs.list_tasks()["taskArns"]
    eq(sorted(default), sorted(running), "desiredStatus defaults to RUNNING")
    stopped = ecs.list_tasks(desiredStatus="STOPPED")["taskArns"]
    check(set(S["echo"]) <= set(stopped), "list_tasks(STOPPED) has the echo tasks", stopped)
    check(arn not in stopped, "the sleeper is not STOPPED", stopped)
    eq(ecs.list_tasks(family="sleeper")["taskArns"], [arn], "family filter")
    eq(ecs.list_tasks(family="echo", desiredStatus="RUNNING")["taskArns"], [], "family echo RUNNING")
    eq(sorted(ecs.list_tasks(startedBy="e2e-tester", desiredStatus="STOPPED")["taskArns"]),
       sorted(S["echo"]), "startedBy filter")
    eq(ecs.list_tasks(startedBy="sleepy")["taskArns"], [arn], "startedBy filter (RUNNING)")
    eq(ecs.list_tasks(desiredStatus="PENDING")["taskArns"], [], "PENDING never matches")
    expect_error("list_tasks(desiredStatus=SLEEPING)", "InvalidParameterException",
                 ecs.list_tasks, desiredStatus="SLEEPING")

    t0 = time.monotonic()
    r = ecs.stop_task(task=task_id(arn), reason="e2e stop — ünïcödé ✓")["task"]
    eq(r["taskArn"], arn, "stop_task returns the task")
    eq(r["desiredStatus"], "STOPPED", "desiredStatus after stop_task")
    wait_tasks("stopped", [arn])
    took = time.monotonic() - t0
    check(took < 15, "stopped within stopTimeout (2 s) plus slack", took)
    t = describe_task(arn)
    eq(t.get("stoppedReason"), "e2e stop — ünïcödé ✓", "stoppedReason is the StopTask reason")
    eq(t.get("stopCode"), "UserInitiated", "stopCode")
    check(is_epoch_seconds(t.get("stoppingAt")) or "stoppingAt" not in t, "stoppingAt", t.get("stoppingAt"))
    eq(ecs.list_tasks(family="sleeper")["taskArns"], [], "no RUNNING sleeper after stop")
    eq(ecs.describe_clusters(clusters=["default"])["clusters"][0].get("runningTasksCount"), 0,
       "runningTasksCount after the stop")
    # Stopping a stopped task is harmless.
    again = ecs.stop_task(task=arn, reason="again")["task"]
    eq(again["lastStatus"], "STOPPED", "stop_task on a STOPPED task")
    eq(describe_task(arn).get("stoppedReason"), "e2e stop — ünïcödé ✓", "the first reason stays")


@step
def override_semantics():
    register("envs", [container("main", "echo", ["def"], log_group=GROUP, environment=[
        {"name": "A", "value": "1"}, {"name": "B", "value": "2"}])], tags=[{"key": "from", "value": "définition ü"}])
    arn = run_task("envs", overrides={"containerOverrides": [{"name": "main", "environment": [
        {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]}]},
        propagateTags="TASK_DEFINITION", startedBy="who/me_1-x", group="grp-1")[0]["taskArn"]
    wait_tasks("stopped", [arn])
    lines = [e["message"] for e in logs.get_log_events(logGroupName=GROUP, logStreamName=f"p/main/{task_id(arn)}",
                                                      startFromHead=True)["events"]]
    envs = [l for l in lines if l.startswith("env ")]
    check({"env A=1", "env B=3", "env C=4"} <= set(envs) and "env B=2" not in envs,
          "override environment is added to and replaces the definition's", envs)
    t = describe_task(arn, include=["TAGS"])
    eq(t.get("startedBy"), "who/me_1-x", "startedBy")
    eq(t.get("group"), "grp-1", "group")
    eq(t.get("tags"), [{"key": "from", "value": "définition ü"}], "propagateTags=TASK_DEFINITION copies the tags")
    eq(ecs.list_tasks(startedBy="who/me_1-x", desiredStatus="STOPPED")["taskArns"], [arn], "list by startedBy")
    S["envs"] = arn


@step
def client_token_is_idempotent():
    """botocore fills RunTask.clientToken (an idempotency token) and sends the same one on a
    retry: a retried RunTask must not start the tasks twice."""
    body = {"taskDefinition": "exit42", "count": 2, "clientToken": "retry-me-0001"}
    a = raw_call("ecs", "RunTask", body)
    b = raw_call("ecs", "RunTask", body)
    eq((a.status, b.status), (200, 200), "both answered")
    arns = lambda r: sorted(t["taskArn"] for t in (r.json or {}).get("tasks", []))  # noqa: E731
    eq(len(arns(a)), 2, "two tasks")
    eq(arns(b), arns(a), "the same clientToken gives the same tasks")
    wait_tasks("stopped", arns(a))


@step
def task_tags():
    arn = S["echo"][0]
    eq(ecs.list_tags_for_resource(resourceArn=arn)["tags"], [{"key": "purpose", "value": "e2e"}],
       "list_tags_for_resource on a task ARN")
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "extra", "value": "1"}])
    eq(sorted(t["key"] for t in describe_task(arn, include=["TAGS"]).get("tags", [])), ["extra", "purpose"],
       "describe_tasks include=TAGS after tag_resource")


@step
def delete_busy_cluster():
    ecs.create_cluster(clusterName="busy")
    arn = run_task("sleeper", cluster="busy")[0]["taskArn"]
    wait_tasks("running", [arn], cluster="busy")
    expect_error("delete_cluster with a RUNNING task", "ClusterContainsTasksException",
                 ecs.delete_cluster, cluster="busy")
    eq(ecs.describe_clusters(clusters=["busy"])["clusters"][0]["status"], "ACTIVE", "still ACTIVE")
    ecs.stop_task(cluster="busy", task=arn)
    wait_tasks("stopped", [arn], cluster="busy")
    eq(ecs.delete_cluster(cluster="busy")["cluster"]["status"], "INACTIVE", "deletable once stopped")
    eq(describe_task(arn, cluster="busy")["lastStatus"], "STOPPED",
       "a deleted cluster's stopped task is still describable")


@step
def status_never_goes_back():
    """Watch a short task closely: lastStatus only moves forward through the lifecycle,
    `version` grows with every change, and RUNNING is seen on the way."""
    register("nap500", [container("main", "sleep", ["500"])])
    arn = run_task("nap500")[0]["taskArn"]
    seen, versions, cstates = [], [], []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        t = describe_task(arn)
        seen.append(t["lastStatus"])
        versions.append(t.get("version"))
        cstates.append(t["containers"][0].get("lastStatus"))
        if t["lastStatus"] == "STOPPED":
            break
        time.sleep(0.01)
    idx = [LIFECYCLE.index(x) if x in LIFECYCLE else -1 for x in seen]
    check(-1 not in idx and idx == sorted(idx), "lastStatus only moves forward", seen)
    check("RUNNING" in seen, "RUNNING seen while the task sleeps 500 ms", sorted(set(seen), key=seen.index))
    eq(seen[-1], "STOPPED", "ends STOPPED")
    changes = [(a, b, va, vb) for a, b, va, vb in zip(seen, seen[1:], versions, versions[1:]) if a != b]
    check(all(isinstance(v, int) for v in versions) and versions == sorted(versions)
          and all(vb > va for _, _, va, vb in changes), "version grows with every change",
          list(zip(seen, versions))[:40])
    corder = ["PENDING", "RUNNING", "STOPPED"]
    cidx = [corder.index(x) if x in corder else -1 for x in cstates]
    check(-1 not in cidx and cidx == sorted(cidx), "container lastStatus only moves forward",
          sorted(set(cstates), key=cstates.index))


@step
def describe_missing():
    ghost = "0" * 32
    r = ecs.describe_tasks(tasks=[ghost])
    eq(r["tasks"], [], "no tasks for an unknown id")
    f = r.get("failures", [])
    eq([x.get("reason") for x in f], ["MISSING"], "failure MISSING")
    if f:
        check(ghost in f[0].get("arn", ""), "failure names the id", f[0])
    r = ecs.describe_tasks(tasks=[S["echo"][0], f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/default/{'f' * 32}"])
    eq([t["taskArn"] for t in r["tasks"]], [S["echo"][0]], "the known one is described")
    eq([x.get("reason") for x in r.get("failures", [])], ["MISSING"], "the unknown ARN is MISSING")
    # A tasks_running waiter on a MISSING task fails instead of waiting 100 rounds.
    try:
        ecs.get_waiter("tasks_running").wait(tasks=[ghost], WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        check(False, "tasks_running on a MISSING task should fail")
    except Exception as e:  # WaiterError
        check("MISSING" in str(e) or "failure" in str(e).lower(), "waiter fails on MISSING", str(e))


@step
def list_pagination():
    want = ecs.list_tasks(desiredStatus="STOPPED")["taskArns"]
    check(len(want) >= 4, "at least four stopped tasks", want)
    got = paginate(ecs.list_tasks, "taskArns", desiredStatus="STOPPED", maxResults=1)
    eq(sorted(got), sorted(want), "maxResults=1 pages list each task once")
    got = ecs.get_paginator("list_tasks").paginate(
        desiredStatus="STOPPED", PaginationConfig={"PageSize": 3}
    ).build_full_result()["taskArns"]
    eq(sorted(got), sorted(want), "paginator PageSize=3")


@step
def other_cluster():
    ecs.create_cluster(clusterName="work")
    arn = run_task("echo", cluster="work")[0]["taskArn"]
    m = TASK_ARN_RE.match(arn)
    check(m and m.group("cluster") == "work", "task ARN names the cluster", arn)
    wait_tasks("stopped", [arn], cluster="work")
    eq(describe_task(arn, cluster="work")["clusterArn"], cluster_arn("work"), "clusterArn")
    eq(ecs.list_tasks(cluster="work", desiredStatus="STOPPED")["taskArns"], [arn], "list_tasks(cluster=work)")
    check(arn not in ecs.list_tasks(desiredStatus="STOPPED")["taskArns"], "not in the default cluster")
    r = ecs.describe_tasks(tasks=[arn])  # default cluster: not there
    eq([x.get("reason") for x in r.get("failures", [])], ["MISSING"], "other cluster's task is MISSING in default")


@step
def task_errors():
    expect_error("run_task(unknown cluster)", "ClusterNotFoundException",
                 ecs.run_task, cluster="nowhere", taskDefinition="echo")
    expect_error("run_task(unknown definition)", {"ClientException", "InvalidParameterException"},
                 ecs.run_task, taskDefinition="no-such-family")
    expect_error("run_task(count=11)", "InvalidParameterException",
                 ecs_raw.run_task, taskDefinition="echo", count=11)
    expect_error("run_task(count=0)", "InvalidParameterException",
                 ecs_raw.run_task, taskDefinition="echo", count=0)
    expect_error("run_task(override of an unknown container)", {"InvalidParameterException", "ClientException"},
                 ecs.run_task, taskDefinition="echo",
                 overrides={"containerOverrides": [{"name": "nobody", "command": ["x"]}]})
    td = register("retired", [container("main", "echo")])
    ecs.deregister_task_definition(taskDefinition=f"retired:{td['revision']}")
    expect_error("run_task(INACTIVE definition)", {"ClientException", "InvalidParameterException"},
                 ecs.run_task, taskDefinition=f"retired:{td['revision']}")
    expect_error("describe_tasks(unknown cluster)", "ClusterNotFoundException",
                 ecs.describe_tasks, cluster="nowhere", tasks=["0" * 32])
    expect_error("list_tasks(unknown cluster)", "ClusterNotFoundException",
                 ecs.list_tasks, cluster="nowhere")
    expect_error("stop_task(unknown task)", {"InvalidParameterException", "ClientException"},
                 ecs.stop_task, task="0" * 32)
    expect_error("stop_task(unknown cluster)", "ClusterNotFoundException",
                 ecs.stop_task, cluster="nowhere", task="0" * 32)
    expect_error("describe_tasks(101 ids)", {"InvalidParameterException", "ClientException"},
                 ecs.describe_tasks, tasks=["0" * 32] * 101)
    eq(ecs.list_tasks(family="no-such-family", desiredStatus="STOPPED")["taskArns"], [],
       "failed run_task calls left no tasks")


main()
