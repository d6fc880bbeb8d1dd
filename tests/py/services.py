"""Services with boto3: CreateService/DescribeServices/UpdateService/DeleteService with the
services_stable and services_inactive waiters, a task stopped from outside replaced, scale
up and down, and a crashing revision tripping the circuit breaker and rolling back."""

from wg import *  # noqa: F403

NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}}
S = {}


def service_arn(name, cluster="default"):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"


def describe(name):
    r = ecs.describe_services(services=[name])
    return r["services"][0] if r["services"] else None


def stable(name):
    ecs.get_waiter("services_stable").wait(services=[name], WaiterConfig=WAIT)
    return describe(name)


def service_tasks(name, status="RUNNING"):
    return ecs.list_tasks(serviceName=name, desiredStatus=status)["taskArns"]


def messages(svc):
    return [e["message"] for e in svc.get("events", [])]


@step
def register_definitions():
    register("web", [container("main", "sleep", ["600000"], stopTimeout=2)])
    register("web", [container("main", "exit-code", ["1"])])


@step
def create_and_wait_stable():
    svc = ecs.create_service(
        serviceName="web",
        taskDefinition="web:1",
        desiredCount=2,
        launchType="FARGATE",
        networkConfiguration=NET,
        deploymentConfiguration={
            "maximumPercent": 200,
            "minimumHealthyPercent": 100,
            "deploymentCircuitBreaker": {"enable": True, "rollback": True},
        },
    )["service"]
    eq(svc["serviceArn"], service_arn("web"), "serviceArn")
    eq(svc["status"], "ACTIVE", "status")
    eq(svc["desiredCount"], 2, "desiredCount")
    eq(svc["taskDefinition"], taskdef_arn("web", 1), "taskDefinition")
    eq(svc["launchType"], "FARGATE", "launchType")
    check(is_epoch_seconds(svc.get("createdAt")), "createdAt", svc.get("createdAt"))
    dep = svc["deployments"][0]
    check(re.match(r"^ecs-svc/\d{19}$", dep["id"]), "deployment id", dep["id"])
    eq(dep["status"], "PRIMARY", "deployment status")
    eq(dep["rolloutState"], "IN_PROGRESS", "rolloutState at creation")
    expect_error(
        "duplicate service",
        ["InvalidParameterException"],
        ecs.create_service,
        serviceName="web",
        taskDefinition="web:1",
        desiredCount=1,
        contains="Creation of service was not idempotent.",
    )
    svc = stable("web")
    eq(svc["runningCount"], 2, "runningCount when stable")
    eq(svc["deployments"][0]["rolloutState"], "COMPLETED", "rolloutState when stable")
    msgs = messages(svc)
    check(any(m == "(service web) has reached a steady state." for m in msgs), "steady event", msgs)
    check(any(m.startswith("(service web) has started 2 tasks: (task ") for m in msgs), "started event", msgs)
    eq(ecs.list_services()["serviceArns"], [service_arn("web")], "ListServices")
    tasks = service_tasks("web")
    eq(len(tasks), 2, "two service tasks")
    for t in ecs.describe_tasks(tasks=tasks)["tasks"]:
        eq(t["group"], "service:web", "task group")
        eq(t["startedBy"], svc["deployments"][0]["id"], "task startedBy")
    S["tasks"] = tasks


@step
def task_stopped_from_outside_is_replaced():
    victim = S["tasks"][0]
    ecs.stop_task(task=victim, reason="chaos")
    wait_tasks("stopped", [victim])
    wait_until(lambda: victim not in service_tasks("web") and len(service_tasks("web")) == 2, "a replacement")
    svc = stable("web")
    eq(svc["runningCount"], 2, "runningCount after replacement")


@step
def scale_up_and_down():
    ecs.update_service(service="web", desiredCount=3)
    svc = stable("web")
    eq(svc["runningCount"], 3, "scaled up")
    ecs.update_service(service="web", desiredCount=1)
    svc = stable("web")
    eq(svc["runningCount"], 1, "scaled down")
    eq(len(service_tasks("web")), 1, "one task left")


@step
def crashing_revision_rolls_back():
    svc = ecs.update_service(service="web", taskDefinition="web:2")["service"]
    eq(len(svc["deployments"]), 2, "a new deployment beside the old one")
    eq(svc["deployments"][0]["taskDefinition"], taskdef_arn("web", 2), "new PRIMARY")

    def rolled_back():
        s = describe("web")
        ok = (
            s["taskDefinition"] == taskdef_arn("web", 1)
            and len(s["deployments"]) == 1
            and s["runningCount"] == 1
        )
        return s if ok else None

    s = wait_until(rolled_back, "the rollback", timeout=90)
    if s:
        msgs = messages(s)
        check(any("deployment failed: tasks failed to start." in m for m in msgs), "failure event", msgs)
        check(any("rolling back" in m for m in msgs), "rollback event", msgs)
    stable("web")


@step
def delete_and_wait_inactive():
    expect_error(
        "delete scaled up",
        ["InvalidParameterException"],
        ecs.delete_service,
        service="web",
        contains="The service cannot be stopped while it is scaled above 0.",
    )
    svc = ecs.delete_service(service="web", force=True)["service"]
    eq(svc["status"], "DRAINING", "DRAINING after delete")
    eq(ecs.list_services()["serviceArns"], [], "deleted service leaves ListServices")
    ecs.get_waiter("services_inactive").wait(services=["web"], WaiterConfig=WAIT)
    eq(describe("web")["status"], "INACTIVE", "INACTIVE")
    eq(service_tasks("web"), [], "no task left")
    expect_error("unknown service", ["ServiceNotFoundException"], ecs.update_service, service="ghost", desiredCount=1)
    expect_error("unknown service tasks", ["ServiceNotFoundException"], ecs.list_tasks, serviceName="ghost")
    r = ecs.describe_services(services=["ghost"])
    eq(r["failures"], [{"arn": service_arn("ghost"), "reason": "MISSING"}], "MISSING failure")


main()
