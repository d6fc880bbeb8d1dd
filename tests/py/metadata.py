"""The task metadata endpoint under `serve`: a guest of a RunTask task reads
`${ECS_CONTAINER_METADATA_URI_V4}`, `/task` and `/taskWithTags`; what it read (shipped to
CloudWatch Logs by awslogs) names the task, cluster and containers exactly as RunTask and
DescribeTasks do, with the task's tags; a service's task also gets `ServiceName`."""

import json

from wg import *  # noqa: F403

GROUP = "/wg/metadata"
NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}}
S = {}


def results(stream):
    """The reader's `RESULT <action> <status> <body>` lines: action -> (status, body)."""
    out = {}
    r = logs.get_log_events(logGroupName=GROUP, logStreamName=stream, startFromHead=True)
    for e in r["events"]:
        parts = e["message"].split(" ", 3)
        if len(parts) == 4 and parts[0] == "RESULT":
            try:
                body = json.loads(parts[3])
            except ValueError:
                body = parts[3]
            out[parts[1]] = (parts[2], body)
    return out


@step
def run_a_task_with_tags():
    ecs.create_cluster(clusterName="md")
    register(
        "md-serve",
        [container("reader", "metadata-reader", ["get:", "get:/task", "get:/taskWithTags", "tcp:/stats"], log_group=GROUP)],
    )
    task = run_task("md-serve", cluster="md", tags=[{"key": "team", "value": "blue"}])[0]
    wait_tasks("stopped", [task["taskArn"]], cluster="md")
    S["task"] = describe_task(task["taskArn"], cluster="md")
    S["results"] = results(f"p/reader/{task_id(task['taskArn'])}")


@step
def the_metadata_names_what_describe_tasks_shows():
    t, r = S["task"], S["results"]
    eq(t["lastStatus"], "STOPPED", "lastStatus")
    eq(t["containers"][0]["exitCode"], 0, "the reader exited 0")
    status, c = r.get("get:", (None, None))
    eq(status, "200", "container metadata status")
    eq(c["ContainerARN"], t["containers"][0]["containerArn"], "ContainerARN")
    eq(c["Labels"]["com.amazonaws.ecs.task-arn"], t["taskArn"], "task-arn label")
    eq(c["Labels"]["com.amazonaws.ecs.cluster"], cluster_arn("md"), "cluster label")
    eq(c["Labels"]["com.amazonaws.ecs.task-definition-version"], "1", "revision label")
    eq(c["Networks"][0]["IPv4Addresses"][0], t["containers"][0]["networkInterfaces"][0]["privateIpv4Address"], "address")
    status, task = r.get("get:/task", (None, None))
    eq(status, "200", "task metadata status")
    eq(task["TaskARN"], t["taskArn"], "TaskARN")
    eq(task["Cluster"], cluster_arn("md"), "Cluster")
    eq(task["Family"], "md-serve", "Family")
    eq(task["Revision"], "1", "Revision")
    eq(task["LaunchType"], "FARGATE", "LaunchType")
    check("ServiceName" not in task, "no ServiceName outside a service", task)
    status, tagged = r.get("get:/taskWithTags", (None, None))
    eq(status, "200", "taskWithTags status")
    eq(tagged.get("TaskTags"), {"team": "blue"}, "TaskTags")
    status, stats = r.get("tcp:/stats", (None, None))
    eq(status, "200", "stats over wasi:sockets")
    check(stats["cpu_stats"]["cpu_usage"]["total_usage"] > 0, "CPU time", stats)


@step
def a_services_task_knows_its_service():
    register("md-svc", [container("reader", "metadata-reader", ["get:/task", "sleep:600000"], log_group=GROUP)])
    ecs.create_service(
        cluster="md", serviceName="md-web", taskDefinition="md-svc", desiredCount=1,
        launchType="FARGATE", networkConfiguration=NET,
    )

    def seen():
        arns = ecs.list_tasks(cluster="md", serviceName="md-web")["taskArns"]
        if not arns:
            return None
        try:
            r = results(f"p/reader/{task_id(arns[0])}")
        except ClientError:
            return None
        return r.get("get:/task")

    got = wait_until(seen, "the service's task read its metadata", timeout=60, interval=0.5)
    status, task = got
    eq(status, "200", "status")
    eq(task.get("ServiceName"), "md-web", "ServiceName")
    ecs.delete_service(cluster="md", service="md-web", force=True)


main()
