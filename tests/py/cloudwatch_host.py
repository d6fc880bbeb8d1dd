"""What the host publishes by itself (issue 14 item 3), read back with boto3 (CloudWatch
over rpc-v2-cbor, its default): a service of 2 tasks of 256 CPU units serving a
CPU-burning HTTP component through the built-in load balancer, under load from 4 client
threads (far more than 2 x 0.25 vCPU can serve, so both tasks run at their share).

- AWS/ECS CPUUtilization (ClusterName, ServiceName) appears within 20 s of the load and,
  averaged over the loaded seconds, is 30-115 % (the share is the ceiling; the CPU meter
  is the truth, and a busy test machine may give a task less than its share);
- MemoryUtilization is the tasks' linear memory over their reservation: per second,
  sum(task % x 512 MiB / 100) equals ContainerInsights MemoryUtilized for the service;
- AWS/ApplicationELB RequestCount (LoadBalancer, TargetGroup) sums to exactly the
  requests the script sent through the listener.

Arguments: the listener's address and the target group's ARN."""

import http.client
import threading

from wg import *  # noqa: F403

LISTENER, TG = ARGS[0], ARGS[1]
TG_DIM = "targetgroup/" + TG.split(":targetgroup/", 1)[1]
cw = client("cloudwatch")
START = time.time()


sent = [0]
lock = threading.Lock()
stop = threading.Event()


def get(path):
    """The status of a GET through the listener (None if it could not connect); every
    answered request is counted in `sent`, whatever its status."""
    host, port = LISTENER.rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        r.read()
        with lock:
            sent[0] += 1
        return r.status
    except OSError:
        return None
    finally:
        conn.close()


def load():
    while not stop.is_set():
        get("/burn?ms=100")


def stats(ns, name, dims, stat, period=1, since=None):
    r = cw.get_metric_statistics(
        Namespace=ns,
        MetricName=name,
        Dimensions=[{"Name": k, "Value": v} for k, v in dims],
        StartTime=datetime.datetime.fromtimestamp(since or START - 60, datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(time.time() + 60, datetime.timezone.utc),
        Period=period,
        Statistics=[stat],
    )
    return sorted(r["Datapoints"], key=lambda d: d["Timestamp"])


SVC = [("ClusterName", "default"), ("ServiceName", "burner")]


@step
def a_loaded_service_shows_cpu_utilization_at_its_share_within_20s():
    register(
        "burn",
        [container("web", "http-hello", portMappings=[{"containerPort": 8080}], stopTimeout=2)],
        cpu="256",
        memory="512",
    )
    ecs.create_service(
        serviceName="burner",
        taskDefinition="burn",
        desiredCount=2,
        networkConfiguration={
            "awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}
        },
        loadBalancers=[{"targetGroupArn": TG, "containerName": "web", "containerPort": 8080}],
    )
    wait_until(
        lambda: ecs.describe_services(services=["burner"])["services"][0]["runningCount"] == 2,
        "2 running tasks",
        timeout=60,
    )
    # Both targets healthy: a request through the listener is served.
    wait_until(lambda: get("/") == 200, "the listener serves", timeout=60, interval=0.5)
    threads = [threading.Thread(target=load) for _ in range(4)]
    loaded_at = time.time()
    for t in threads:
        t.start()
    seen = []

    def cpu_seen():
        pts = stats("AWS/ECS", "CPUUtilization", SVC, "Average", since=loaded_at + 2)
        seen[:] = pts
        return len(pts) >= 3

    try:
        wait_until(cpu_seen, "CPUUtilization for the service", timeout=20, interval=0.5)
        took = time.time() - loaded_at
        check(took <= 20, f"CPUUtilization seen {took:.1f}s after the load began")
        # The loaded seconds, after the first (the load ramps up).
        values = [d["Average"] for d in seen[1:]]
        avg = sum(values) / len(values)
        print(f"CPUUtilization per second: {[round(v) for v in values]} avg {avg:.1f}")
        # Saturated, each task runs at its share: never above it (the meter's overshoot is
        # carried into the next period), and well up to it unless the machine itself is
        # short of CPU (tests run side by side).
        check(30 <= avg <= 115, f"service CPUUtilization {avg:.1f} % of a 256-unit share", values)
        check(max(values) <= 130, "no second far above the share", values)
        counts = stats("AWS/ECS", "CPUUtilization", SVC, "SampleCount", since=loaded_at + 2)
        check(all(d["SampleCount"] % 2 == 0 for d in counts), "one value per task", counts)
    finally:
        stop.set()
        for t in threads:
            t.join()


@step
def memory_utilization_is_the_tasks_linear_memory():
    since = START - 60
    mem = stats("AWS/ECS", "MemoryUtilization", SVC, "Sum", since=since)
    used = stats("ECS/ContainerInsights", "MemoryUtilized", SVC, "Sum", since=since)
    reserved = stats("ECS/ContainerInsights", "MemoryReserved", SVC, "Sum", since=since)
    check(len(mem) > 0 and len(used) > 0, "memory series published", (mem, used))
    by_ts = {d["Timestamp"]: d["Sum"] for d in used}
    matched = 0
    for d in mem:
        if d["Timestamp"] in by_ts:
            matched += 1
            mib = d["Sum"] * 512 / 100
            check(abs(mib - by_ts[d["Timestamp"]]) < 0.01,
                  "MemoryUtilization x reservation = MemoryUtilized", (d, by_ts[d["Timestamp"]]))
    check(matched > 0, "same seconds in both series")
    check(any(d["Sum"] > 0 for d in mem), "the burning instances held linear memory", mem)
    check(reserved and reserved[-1]["Sum"] == 1024, "MemoryReserved: 2 x 512 MiB", reserved)


@step
def request_count_equals_the_requests_sent_through_the_listener():
    listed = cw.list_metrics(Namespace="AWS/ApplicationELB", MetricName="RequestCount")["Metrics"]
    lb = next(
        (d["Value"] for m in listed for d in m["Dimensions"] if d["Name"] == "LoadBalancer"),
        None,
    )
    check(lb is not None and lb.startswith("app/wasmgate/"), "LoadBalancer dimension", listed)
    dims = [("LoadBalancer", lb), ("TargetGroup", TG_DIM)]
    total = [None]

    def counted():
        pts = stats("AWS/ApplicationELB", "RequestCount", dims, "Sum", period=3600,
                    since=START - 3600)
        total[0] = sum(d["Sum"] for d in pts)
        return total[0] == sent[0]

    wait_until(counted, f"RequestCount = {sent[0]} requests sent", timeout=25, interval=0.5)
    eq(total[0], sent[0], "RequestCount")
    per_target = stats("AWS/ApplicationELB", "HealthyHostCount", dims, "Maximum")
    check(any(d["Maximum"] == 2 for d in per_target), "HealthyHostCount 2", per_target)


if __name__ == "__main__":
    main()
