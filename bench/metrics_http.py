"""Driven by bench/metrics_http.sh: for each round, a fresh `wasmgate serve` with
`[metrics] publish` on, then off (the order alternates by round), N idle tasks and one
HTTP task; the host's CPU and RSS while idle, then `wrk` against the HTTP task."""

import os
import re
import signal
import statistics
import subprocess
import tempfile
import time

import boto3

N = int(os.environ["N"])
ROUNDS = int(os.environ["ROUNDS"])
SECONDS = int(os.environ["SECONDS_PER_RUN"])
IDLE = int(os.environ.get("IDLE_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
BIN = os.environ["WASMGATE"]
WASM = os.environ["WASM_DIR"]
GUEST = os.environ["GUEST"]
NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def rss_mib(pid):
    for line in open(f"/proc/{pid}/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def start_host(work, publish):
    data = os.path.join(work, "data")
    config = os.path.join(work, "wasmgate.toml")
    with open(config, "w") as f:
        f.write(f"[metrics]\npublish = {'true' if publish else 'false'}\n")
    log = open(os.path.join(work, "serve.log"), "w+")
    proc = subprocess.Popen(
        [BIN, "--data-dir", data, "--config", config, "serve", "--listen", "127.0.0.1:0"],
        stderr=log, stdout=subprocess.DEVNULL,
    )
    for _ in range(600):
        log.seek(0)
        m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", log.read())
        if m:
            return proc, int(m.group(1))
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    log.seek(0)
    raise SystemExit(f"wasmgate serve did not start:\n{log.read()}")


def running(ecs, arns):
    up = 0
    for i in range(0, len(arns), 100):
        tasks = ecs.describe_tasks(tasks=arns[i:i + 100])["tasks"]
        up += sum(t["lastStatus"] == "RUNNING" for t in tasks)
    return up


def start_tasks(ecs):
    idle = {"name": "main", "image": f"{WASM}/{GUEST}.wasm", "essential": True}
    if GUEST == "sleep":
        idle["command"] = ["86400000"]
    else:
        idle["portMappings"] = [{"containerPort": 8080}]
    ecs.register_task_definition(family="idle", requiresCompatibilities=["FARGATE"],
                                 networkMode="awsvpc", cpu="256", memory="512",
                                 containerDefinitions=[idle])
    ecs.register_task_definition(
        family="hello", requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
        cpu="4096", memory="8192",
        containerDefinitions=[{"name": "web", "image": f"{WASM}/http-hello.wasm",
                               "essential": True, "portMappings": [{"containerPort": 8080}]}])
    hello = ecs.run_task(taskDefinition="hello", launchType="FARGATE",
                         networkConfiguration=NET)["tasks"][0]["taskArn"]
    arns = []
    while len(arns) < N:
        r = ecs.run_task(taskDefinition="idle", count=min(10, N - len(arns)),
                         launchType="FARGATE", networkConfiguration=NET)
        if r["failures"]:
            raise SystemExit(f"RunTask failed after {len(arns)} tasks: {r['failures'][:1]}")
        arns += [t["taskArn"] for t in r["tasks"]]
    deadline = time.monotonic() + 900
    while running(ecs, arns + [hello]) < len(arns) + 1:
        if time.monotonic() > deadline:
            raise SystemExit("tasks did not reach RUNNING in 15 minutes")
        time.sleep(1)
    task = ecs.describe_tasks(tasks=[hello])["tasks"][0]
    address = next(d["value"] for a in task["attachments"] for d in a["details"]
                   if d["name"] == "privateIPv4Address")
    return address


def wrk(address):
    out = subprocess.run(
        ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{SECONDS}s", f"http://{address}:8080/"],
        capture_output=True, text=True, check=True,
    ).stdout
    m = re.search(r"Requests/sec:\s*([\d.]+)", out)
    if not m:
        raise SystemExit(f"no Requests/sec in wrk's output:\n{out}")
    return float(m.group(1))


def run(publish):
    with tempfile.TemporaryDirectory() as work:
        proc, port = start_host(work, publish)
        try:
            ecs = boto3.client("ecs", endpoint_url=f"http://127.0.0.1:{port}",
                               region_name="us-east-1")
            address = start_tasks(ecs)
            # Let the publisher reach its steady state (a write every 10 s) first.
            time.sleep(12)
            c0, t0 = cpu_seconds(proc.pid), time.monotonic()
            time.sleep(IDLE)
            idle_cpu = (cpu_seconds(proc.pid) - c0) / (time.monotonic() - t0) * 100
            rss = rss_mib(proc.pid)
            wrk(address)  # warm-up: the first instances, the connections
            rps = wrk(address)
            return rps, idle_cpu, rss
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


print(f"{N} idle tasks ({GUEST}) + 1 http-hello task (cpu 4096); wrk -t1 -c{CONNECTIONS} "
      f"-d{SECONDS}s; idle window {IDLE}s; {BIN}")
print(f"{'round':>5}  {'publish':>7}  {'req/s':>10}  {'idle host CPU %':>15}  {'RSS MiB':>8}")
results = {True: [], False: []}
for r in range(ROUNDS):
    for publish in ([True, False] if r % 2 == 0 else [False, True]):
        rps, cpu, rss = run(publish)
        results[publish].append((rps, cpu, rss))
        print(f"{r + 1:>5}  {'on' if publish else 'off':>7}  {rps:>10.0f}  {cpu:>15.1f}  {rss:>8.0f}",
              flush=True)


def med(mode, i):
    return statistics.median(x[i] for x in results[mode])


ratios = [on[0] / off[0] for on, off in zip(results[True], results[False])]
print(f"median req/s: on {med(True, 0):.0f}, off {med(False, 0):.0f}; "
      f"on/off {med(True, 0) / med(False, 0):.3f} (per round: "
      f"{', '.join(f'{x:.3f}' for x in ratios)})")
print(f"idle host CPU: on {med(True, 1):.1f} %, off {med(False, 1):.1f} % "
      f"(collection: {med(True, 1) - med(False, 1):.1f} % of one core); "
      f"RSS: on {med(True, 2):.0f} MiB, off {med(False, 2):.0f} MiB")
