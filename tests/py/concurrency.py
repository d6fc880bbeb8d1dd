"""Many clients at once, and races a user can provoke: concurrent registrations of one
family (revisions stay unique and gapless), concurrent RunTask/DescribeTasks, StopTask
right after RunTask, concurrent tagging, a definition whose image is missing."""

from concurrent.futures import ThreadPoolExecutor

from wg import *  # noqa: F403

S = {}


def pool(n, fn, items):
    """fn(client, item) on n threads, each with its own client; returns results in order."""
    clients = [client("ecs") for _ in range(n)]

    def run(i_item):
        i, item = i_item
        return fn(clients[i % n], item)

    with ThreadPoolExecutor(n) as ex:
        return list(ex.map(run, enumerate(items)))


@step
def concurrent_registrations():
    def reg(c, i):
        return c.register_task_definition(**taskdef("race", [container("main", "echo", [str(i)])]))[
            "taskDefinition"]

    tds = pool(8, reg, range(40))
    revs = sorted(td["revision"] for td in tds)
    eq(revs, list(range(1, 41)), "40 concurrent registrations get revisions 1..40")
    for td in tds:
        got = ecs.describe_task_definition(taskDefinition=f"race:{td['revision']}")["taskDefinition"]
        eq(got["containerDefinitions"][0]["command"], td["containerDefinitions"][0]["command"],
           f"race:{td['revision']} has the body its registration got back")
    listed = paginate(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="race", maxResults=7)
    eq(listed, [taskdef_arn("race", i) for i in range(1, 41)], "all listed, in order")


@step
def concurrent_runs():
    register("burst", [container("main", "echo", ["burst"], log_group="/wg/burst")])

    def run(c, _):
        r = c.run_task(taskDefinition="burst", count=10, startedBy="burst")
        check(not r.get("failures"), "no failures", r.get("failures"))
        return [t["taskArn"] for t in r["tasks"]]

    arns = [a for batch in pool(4, run, range(4)) for a in batch]
    eq(len(set(arns)), 40, "40 distinct tasks")

    def describe(c, chunk):
        return c.describe_tasks(tasks=chunk)

    # Describe them from several threads while they run and stop.
    chunks = [arns[i:i + 10] for i in range(0, 40, 10)]
    for r in pool(4, describe, chunks * 2):
        eq(r.get("failures", []), [], "every new task is describable at once")
        for t in r["tasks"]:
            check(t["lastStatus"] in LIFECYCLE, "lifecycle state", t["lastStatus"])
    for chunk in chunks:
        wait_tasks("stopped", chunk)
    stopped = paginate(ecs.list_tasks, "taskArns", startedBy="burst", desiredStatus="STOPPED", maxResults=9)
    eq(sorted(stopped), sorted(arns), "list_tasks pages over the 40 stopped tasks")
    codes = [t["containers"][0].get("exitCode") for ch in chunks for t in ecs.describe_tasks(tasks=ch)["tasks"]]
    eq(codes, [0] * 40, "every task exited 0")
    streams = paginate(logs.describe_log_streams, "logStreams", logGroupName="/wg/burst", limit=50)
    eq(len(streams), 40, "one log stream per task")
    c = ecs.describe_clusters()["clusters"][0]
    eq((c["runningTasksCount"], c["pendingTasksCount"]), (0, 0), "no task counted as running or pending")


@step
def stop_right_after_run():
    register("nap", [container("main", "sleep", ["30000"], stopTimeout=2)])
    arns = []
    for i in range(5):
        arn = run_task("nap")[0]["taskArn"]
        r = ecs.stop_task(task=arn, reason=f"changed my mind {i}")["task"]
        eq(r["desiredStatus"], "STOPPED", "desiredStatus right after stop_task")
        arns.append(arn)
    t0 = time.monotonic()
    wait_tasks("stopped", arns)
    check(time.monotonic() - t0 < 20, "stopped quickly", time.monotonic() - t0)
    for i, arn in enumerate(arns):
        t = describe_task(arn)
        eq(t.get("stoppedReason"), f"changed my mind {i}", "the StopTask reason")
        eq(t.get("stopCode"), "UserInitiated", "stopCode")
        eq(t["containers"][0].get("lastStatus"), "STOPPED", "container STOPPED")
    eq(ecs.list_tasks(family="nap")["taskArns"], [], "none left RUNNING")


@step
def concurrent_tagging():
    ecs.create_cluster(clusterName="tagrace")
    arn = cluster_arn("tagrace")

    def tag(c, i):
        c.tag_resource(resourceArn=arn, tags=[{"key": f"k{i}", "value": str(i)}])

    pool(8, tag, range(40))
    tags = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
    eq(sorted(t["key"] for t in tags), sorted(f"k{i}" for i in range(40)), "every concurrent tag kept")


@step
def missing_image():
    """An image that is not there: refused at registration, or the task fails to start,
    either way with a reason and never a 5xx."""
    try:
        ecs.register_task_definition(**taskdef("ghost", [container("main", "echo")]))
        td = ecs.register_task_definition(**taskdef("ghost", [dict(container("main", "echo"),
                                                                   image="/nonexistent/ghost.wasm")]))
    except ClientError as e:
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "refused with a 400")
        return
    rev = td["taskDefinition"]["revision"]
    try:
        r = ecs.run_task(taskDefinition=f"ghost:{rev}")
    except ClientError as e:
        eq(e.response["ResponseMetadata"]["HTTPStatusCode"], 400, "run_task refused with a 400")
        return
    if r.get("failures"):
        check(r["failures"][0].get("reason"), "a failure reason", r["failures"])
        return
    arn = r["tasks"][0]["taskArn"]
    wait_tasks("stopped", [arn])
    t = describe_task(arn)
    eq(t.get("stopCode"), "TaskFailedToStart", "stopCode for an image that cannot be loaded")
    check("ghost.wasm" in (t.get("stoppedReason") or "") or "CannotPullContainerError" in (t.get("stoppedReason") or ""),
          "stoppedReason says what was missing", t.get("stoppedReason"))


main()
