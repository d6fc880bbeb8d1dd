"""A full host (issue 15): `wasmgate serve` with `[capacity] cpu_units = 12800` takes fifty
tasks of 256 CPU units; the 51st RunTask gets ECS's `RESOURCE:CPU` failure instead of a task
that never runs, DescribeClusters shows what is left, a stopped task makes room for one more,
and a service of 51 runs 50 and says why in its events without spinning."""

from wg import *  # noqa: F403

NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}}
FULL = 50
S = {}


def stats():
    c = ecs.describe_clusters(clusters=["default"], include=["STATISTICS"])["clusters"][0]
    return {s["name"]: s["value"] for s in c.get("statistics", [])}


def running(arns):
    out = []
    for i in range(0, len(arns), 100):
        out += ecs.describe_tasks(tasks=arns[i : i + 100])["tasks"]
    return [t for t in out if t["lastStatus"] == "RUNNING"]


def run(count):
    return ecs.run_task(taskDefinition="idle", count=count, launchType="FARGATE", networkConfiguration=NET)


@step
def fifty_tasks_fit():
    register("idle", [container("main", "sleep", ["600000"], stopTimeout=2)])
    arns = []
    for _ in range(FULL // 10):
        r = run(10)
        eq(r["failures"], [], "failures while the host has room")
        arns += [t["taskArn"] for t in r["tasks"]]
    eq(len(arns), FULL, "tasks placed")
    S["arns"] = arns
    wait_until(lambda: len(running(arns)) == FULL, f"{FULL} tasks RUNNING", timeout=120, interval=0.5)
    s = stats()
    eq(s.get("hostTasksCount"), str(FULL), "hostTasksCount")
    eq(s.get("hostRegisteredCpu"), "12800", "hostRegisteredCpu")
    eq(s.get("hostRemainingCpu"), "0", "hostRemainingCpu")
    check("hostAvailableMemory" in s, "hostAvailableMemory shown", s)


@step
def the_51st_is_a_resource_failure():
    r = run(1)
    eq(r["tasks"], [], "no task accepted that would never run")
    eq(len(r["failures"]), 1, "one failure")
    f = r["failures"][0]
    eq(f["reason"], "RESOURCE:CPU", "reason")
    eq(f["arn"], cluster_arn("default"), "arn")
    check("cpu_units" in f.get("detail", ""), "detail names the limit", f)
    # count 2 with no room: a failure per task, still no error.
    r = run(2)
    eq((len(r["tasks"]), [x["reason"] for x in r["failures"]]), (0, ["RESOURCE:CPU"] * 2), "count 2")
    eq(len(ecs.list_tasks(desiredStatus="RUNNING")["taskArns"]), FULL, "still 50 tasks")


@step
def a_stopped_task_makes_room_for_one():
    victim = S["arns"].pop()
    ecs.stop_task(task=victim, reason="make room")
    wait_tasks("stopped", [victim])
    eq(stats().get("hostRemainingCpu"), "256", "room for one after the stop")
    r = run(1)
    eq(r["failures"], [], "one more fits again")
    eq(len(r["tasks"]), 1, "placed")
    S["arns"] += [t["taskArn"] for t in r["tasks"]]
    r = run(1)
    eq([x["reason"] for x in r["failures"]], ["RESOURCE:CPU"], "and then the host is full again")


@step
def a_service_of_51_runs_50_and_says_why():
    arns = S["arns"]
    for a in arns:
        ecs.stop_task(task=a, reason="clear the host")
    for i in range(0, len(arns), 100):
        wait_tasks("stopped", arns[i : i + 100])
    ecs.create_service(
        serviceName="big",
        taskDefinition="idle",
        desiredCount=FULL + 1,
        launchType="FARGATE",
        networkConfiguration=NET,
    )

    def placed():
        svc = ecs.describe_services(services=["big"])["services"][0]
        unplaced = [e["message"] for e in svc["events"] if "unable to place a task" in e["message"]]
        return svc if svc["runningCount"] == FULL and unplaced else None

    svc = wait_until(placed, "50 running and an event saying why", timeout=120, interval=0.5)
    if not svc:
        return
    msgs = [e["message"] for e in svc["events"] if "unable to place a task" in e["message"]]
    check("RESOURCE:CPU" in msgs[0], "the event gives the reason", msgs[0])
    check("no container instance met all of its requirements" in msgs[0], "ECS's words", msgs[0])
    # It backs off instead of spinning: over a few seconds, a handful of attempts at most.
    time.sleep(4)
    svc = ecs.describe_services(services=["big"])["services"][0]
    again = [e for e in svc["events"] if "unable to place a task" in e["message"]]
    check(len(again) <= 4, "attempts back off", [e["message"] for e in again])
    eq(svc["runningCount"], FULL, "runningCount")
    eq(svc["deployments"][0]["failedTasks"], 0, "a full host fails no task")
    eq(svc["deployments"][0]["rolloutState"], "IN_PROGRESS", "the deployment waits for room")
    ecs.update_service(service="big", desiredCount=0)
    ecs.delete_service(service="big")


main()
