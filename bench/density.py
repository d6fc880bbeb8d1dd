"""Runs N idle 1-container tasks on a `wasmgate serve` (port, pid) and prints what they cost.
Driven by bench/density.sh."""

import sys
import time

import boto3

port, pid, n, image = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
ecs = boto3.client("ecs", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1")
NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}}


def proc():
    status = dict(
        line.split(":", 1) for line in open(f"/proc/{pid}/status").read().splitlines() if ":" in line
    )
    import os

    return {
        "rss_kib": int(status["VmRSS"].split()[0]),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def running(arns):
    n = 0
    for i in range(0, len(arns), 100):
        n += sum(t["lastStatus"] == "RUNNING" for t in ecs.describe_tasks(tasks=arns[i : i + 100])["tasks"])
    return n


command = ["86400000"] if image.endswith("/sleep.wasm") else []
container = {"name": "main", "image": image, "command": command, "essential": True}
if not command:
    container["portMappings"] = [{"containerPort": 8080}]
ecs.register_task_definition(
    family="idle", requiresCompatibilities=["FARGATE"], networkMode="awsvpc", cpu="256",
    memory="512", containerDefinitions=[container],
)
# One task first, so the compile is not counted as per-task memory.
first = ecs.run_task(taskDefinition="idle", count=1, launchType="FARGATE", networkConfiguration=NET)
arns = [t["taskArn"] for t in first["tasks"]]
while running(arns) < 1:
    time.sleep(0.2)
base = proc()
t0 = time.monotonic()
failures = []
while len(arns) < n:
    r = ecs.run_task(taskDefinition="idle", count=min(10, n - len(arns)), launchType="FARGATE",
                     networkConfiguration=NET)
    arns += [t["taskArn"] for t in r["tasks"]]
    failures += r["failures"]
    if r["failures"]:
        break
deadline = time.monotonic() + 600
while (up := running(arns)) < len(arns) and time.monotonic() < deadline:
    time.sleep(1)
elapsed = time.monotonic() - t0
time.sleep(2)
after = proc()
extra = max(len(arns) - 1, 1)
print(f"tasks accepted: {len(arns)} of {n}; RUNNING: {up}; failures: {failures[:1]}")
print(f"time to RUNNING: {elapsed:.1f} s")
print(f"host at 1 task:  rss {base['rss_kib']} KiB, {base['fds']} fds, {base['threads']} threads")
print(f"host at {len(arns)} tasks: rss {after['rss_kib']} KiB, {after['fds']} fds, {after['threads']} threads")
print(f"per idle task: {(after['rss_kib'] - base['rss_kib']) / extra:.0f} KiB, "
      f"{(after['fds'] - base['fds']) / extra:.2f} fds, {(after['threads'] - base['threads']) / extra:.3f} threads")
