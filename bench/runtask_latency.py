"""RunTask → RUNNING as a boto3 user sees it (issue 15's table row): RunTask, then
DescribeTasks back to back until the task is RUNNING; p50/p99 over N tasks after a
warm-up. Also the floor boto3 itself sets: one DescribeTasks round trip of a known task.
With a fourth argument (serve's pid), the sampled tasks run under
`strace -f -c -e trace=fsync,fdatasync -p <pid>`: fsyncs per RunTask → RUNNING.
Driven by bench/runtask_latency.sh (args: port, N, image[, pid])."""

import signal
import statistics
import subprocess
import sys
import time

import boto3
from botocore.config import Config

port, n, image = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
pid = sys.argv[4] if len(sys.argv) > 4 else None
ecs = boto3.client(
    "ecs",
    endpoint_url=f"http://127.0.0.1:{port}",
    region_name="us-east-1",
    config=Config(retries={"total_max_attempts": 1}),
)
NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}}
ecs.register_task_definition(
    family="latency", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256",
    memory="512",
    containerDefinitions=[{"name": "main", "image": image, "command": ["86400000"], "essential": True}],
)


def sample():
    t0 = time.perf_counter()
    arn = ecs.run_task(taskDefinition="latency", launchType="FARGATE", networkConfiguration=NET)[
        "tasks"
    ][0]["taskArn"]
    calls = 0
    while True:
        calls += 1
        t = ecs.describe_tasks(tasks=[arn])["tasks"][0]
        if t["lastStatus"] == "RUNNING":
            return time.perf_counter() - t0, calls, arn
        if t["lastStatus"] == "STOPPED":
            sys.exit(f"task stopped: {t.get('stoppedReason')}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(p / 100 * len(xs)) - 1))]


arns = []
for _ in range(20):  # warm-up: the compile, first connections, caches
    arns.append(sample()[2])
strace = None
if pid:
    out = f"/tmp/wasmgate-fsyncs-{pid}.txt"
    strace = subprocess.Popen(["strace", "-f", "-c", "-e", "trace=fsync,fdatasync", "-o", out, "-p", pid])
    time.sleep(1)  # attached to every thread
times, calls = [], []
for _ in range(n):
    dt, c, arn = sample()
    times.append(dt * 1e3)
    calls.append(c)
    arns.append(arn)
if strace:
    strace.send_signal(signal.SIGINT)
    strace.wait()
    text = open(out).read()
    total = [l for l in text.splitlines() if l.strip().endswith("total")]
    syncs = int(total[0].split()[3]) if total else 0
    print(text)
    print(f"fsync + fdatasync while {n} tasks went RunTask → RUNNING: {syncs} = {syncs / n:.2f} per task")
floor = []
for _ in range(n):
    t0 = time.perf_counter()
    ecs.describe_tasks(tasks=[arns[-1]])
    floor.append((time.perf_counter() - t0) * 1e3)
for arn in arns:
    ecs.stop_task(task=arn)
print(f"RunTask → RUNNING (n={n}): p50 {statistics.median(times):.2f} ms, p99 {pct(times, 99):.2f} ms, "
      f"min {min(times):.2f} ms; DescribeTasks calls per task: mean {statistics.mean(calls):.2f}, max {max(calls)}")
print(f"one DescribeTasks round trip (boto3's floor): p50 {statistics.median(floor):.2f} ms, p99 {pct(floor, 99):.2f} ms")
