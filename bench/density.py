"""Runs N idle 1-container tasks on a `wasmgate serve` (port, pid) and prints what they cost.
Driven by bench/density.sh."""

import os
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
    return {
        "rss_kib": int(status["VmRSS"].split()[0]),
        "pool_kib": pool_rss(),
        "threads": int(status["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def pool_rss():
    """RSS of the instance pool's reservations (anonymous mappings of 1 GiB or more: guest
    linear memories, async stacks, tables); the rest of the RSS is the host's own. A lower
    bound: parts of the pool split into small mappings (memory images, stacks between guard
    pages) count as the rest."""
    total, big = 0, False
    for line in open(f"/proc/{pid}/smaps"):
        head = line.split()
        if "-" in head[0] and not head[0].endswith(":"):
            lo, hi = (int(x, 16) for x in head[0].split("-"))
            big = len(head) < 6 and hi - lo >= 1 << 30
        elif head[0] == "Rss:" and big:
            total += int(head[1])
    return total


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
pool = (after["pool_kib"] - base["pool_kib"]) / extra
print(f"  of which the instance pool (guest memories, stacks, tables): {pool:.0f} KiB, "
      f"the rest of the host: {(after['rss_kib'] - base['rss_kib']) / extra - pool:.0f} KiB")
# The same host after a while idle: every task's metric series now exist and the
# publisher has run. DENSITY_IDLE_SECONDS (default 15) sets how long it watches, with a
# reading every 5 s: an idle task's cost should stay flat.
idle = int(os.environ.get("DENSITY_IDLE_SECONDS", "15"))
for waited in range(5, idle + 1, 5):
    time.sleep(5)
    later = proc()
    print(f"{waited} s later: per idle task {(later['rss_kib'] - base['rss_kib']) / extra:.0f} KiB")
with open("/proc/loadavg") as f:
    print(f"load average at the end: {' '.join(f.read().split()[:3])}")
