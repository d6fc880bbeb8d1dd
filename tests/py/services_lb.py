"""A service behind the built-in load balancer with boto3 (issue 9, items 12 and 15):
`loadBalancers[]` checked against the task definition, the services_stable waiter
returning only once a request through the listener is answered, and no steady-state
event written twice in a row.

Arguments: the listener's address (127.0.0.1:PORT) and the target group's ARN. The target
group's health check needs several passes, so its targets are `initial` for seconds
after the tasks reach RUNNING."""

import http.client

from wg import *  # noqa: F403

LISTENER, TG = ARGS[0], ARGS[1]
NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}}


def get(path="/"):
    """(status, body) of a GET through the listener; (None, why) if it cannot connect."""
    host, port = LISTENER.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)
    finally:
        conn.close()


def lb(name="web", port=8080):
    return [{"targetGroupArn": TG, "containerName": name, "containerPort": port}]


def web(ports, name="web"):
    return container(name, "http-hello", portMappings=[{"containerPort": p} for p in ports], stopTimeout=2)


def describe(name):
    return ecs.describe_services(services=[name])["services"][0]


def messages(svc):
    return [e["message"] for e in svc.get("events", [])]


@step
def load_balancers_name_a_container_and_one_of_its_ports():
    register("lbweb", [web([8080])])
    register("lbweb", [web([9090])])
    expect_error(
        "unknown containerName", "InvalidParameterException", ecs.create_service,
        serviceName="bad", taskDefinition="lbweb:1", desiredCount=1, loadBalancers=lb(name="nope"),
        contains="loadBalancers[0].containerName",
    )
    expect_error(
        "containerPort not mapped", "InvalidParameterException", ecs.create_service,
        serviceName="bad", taskDefinition="lbweb:1", desiredCount=1, loadBalancers=lb(port=9999),
        contains="loadBalancers[0].containerPort",
    )
    r = ecs.describe_services(services=["bad"])
    eq(r["services"], [], "a refused service does not exist")


@step
def services_stable_returns_once_the_listener_serves():
    svc = ecs.create_service(
        serviceName="lbweb", taskDefinition="lbweb:1", desiredCount=2, launchType="FARGATE",
        networkConfiguration=NET, loadBalancers=lb(),
    )["service"]
    eq(svc["deployments"][0]["rolloutState"], "IN_PROGRESS", "rolloutState at creation")
    # Polled every second: a "stable" answer before the targets are healthy would be seen.
    ecs.get_waiter("services_stable").wait(services=["lbweb"], WaiterConfig=WAIT)
    status, body = get("/")
    eq(status, 200, "a request through the listener right after services_stable")
    check("hello" in body, "the answer comes from a task", body)
    svc = describe("lbweb")
    eq(svc["deployments"][0]["rolloutState"], "COMPLETED", "rolloutState once stable")
    msgs = messages(svc)
    eq(msgs.count("(service lbweb) has reached a steady state."), 1, "one steady-state event")


@step
def an_update_must_keep_the_load_balancer_port():
    expect_error(
        "revision without the port", "InvalidParameterException", ecs.update_service,
        service="lbweb", taskDefinition="lbweb:2", contains="loadBalancers[0].containerPort",
    )
    eq(describe("lbweb")["taskDefinition"], taskdef_arn("lbweb", 1), "still revision 1")


@step
def steady_state_is_not_repeated_back_to_back():
    ecs.update_service(service="lbweb", desiredCount=2)  # changes nothing the tasks show
    ecs.update_service(service="lbweb", desiredCount=3)
    wait_until(lambda: describe("lbweb")["runningCount"] == 3, "a third task", timeout=60)
    ecs.get_waiter("services_stable").wait(services=["lbweb"], WaiterConfig=WAIT)
    wait_until(
        lambda: messages(describe("lbweb"))[0] == "(service lbweb) has reached a steady state.",
        "steady again after scaling", timeout=60,
    )
    msgs = messages(describe("lbweb"))
    pairs = [(a, b) for a, b in zip(msgs, msgs[1:]) if a == b and "steady state" in a]
    eq(pairs, [], "identical steady-state events back to back")
    eq(get("/")[0], 200, "still served")


@step
def delete():
    ecs.delete_service(service="lbweb", force=True)
    ecs.get_waiter("services_inactive").wait(services=["lbweb"], WaiterConfig=WAIT)


main()
