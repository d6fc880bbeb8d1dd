"""Issue 15's table in one run: wasmgate against `wasmtime serve` (wasmtime-cli 48) on the
same component, the built-in listener against straight-to-task, RunTask latency through
boto3, density, fuel and cold starts. Driven by bench/perf-table.sh, which builds what it
needs; read that file for the command.

Every HTTP row is `wrk -t1 -c16` against `guests/http-hello`, and the setups are
interleaved round by round (wasmtime serve, task cpu 4096, task cpu 1024, listener, …) so
that the machine's other load falls on all of them alike: the ratios are the result,
absolute numbers are whatever the shared machine allowed."""

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone

import boto3

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"]}}
REGION = "us-east-1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_line(path, pattern, proc, timeout=120):
    """The first match of `pattern` in the growing file `path` (a child's log)."""
    deadline = time.monotonic() + timeout
    rx = re.compile(pattern)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"{proc.args[0]} exited {proc.returncode}:\n{open(path).read()}")
        with open(path) as f:
            m = rx.search(f.read())
        if m:
            return m
        time.sleep(0.05)
    sys.exit(f"timed out waiting for /{pattern}/ in {path}:\n{open(path).read()}")


def wait_http(url, timeout=60):
    host, port = url.split("//")[1].split("/")[0].rsplit(":", 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, int(port)), timeout=1) as s:
                s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(12).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    sys.exit(f"{url} never answered 200")


def wrk(url, seconds):
    """(requests/s, p50 ms, p99 ms) of one wrk run."""
    out = subprocess.run(
        ["wrk", "-t1", "-c16", f"-d{seconds}s", "--latency", url],
        capture_output=True, text=True, check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))

    def pct(p):
        v, unit = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)\b", out).groups()
        return float(v) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        sys.exit(f"{url}: {errors.group(1)} non-2xx responses\n{out}")
    return rps, pct(50), pct(99)


def load_average():
    return open("/proc/loadavg").read().split()[0]


class Serve:
    """A `wasmgate serve` on a fresh data directory, driven through boto3."""

    def __init__(self, binary, work, config_text=""):
        self.dir = os.path.join(work, "serve")
        os.makedirs(self.dir)
        config = os.path.join(self.dir, "wasmgate.toml")
        with open(config, "w") as f:
            f.write(config_text)
        self.log = os.path.join(self.dir, "serve.log")
        self.proc = subprocess.Popen(
            [binary, "--data-dir", os.path.join(self.dir, "data"), "--config", config,
             "serve", "--listen", "127.0.0.1:0"],
            stdout=subprocess.DEVNULL, stderr=open(self.log, "w"),
        )
        port = wait_line(self.log, r"listening on http://127\.0\.0\.1:(\d+)", self.proc).group(1)
        self.endpoint = f"http://127.0.0.1:{port}"
        kw = dict(endpoint_url=self.endpoint, region_name=REGION,
                  aws_access_key_id="test", aws_secret_access_key="test")
        self.ecs = boto3.client("ecs", **kw)

    def listener(self):
        return wait_line(self.log, r"lb listener (http://127\.0\.0\.1:\d+)", self.proc).group(1)

    def register(self, family, image, cpu, memory, port=8080, command=None, labels=None):
        c = {"name": "main", "image": image, "essential": True}
        if port:
            c["portMappings"] = [{"containerPort": port}]
        if command:
            c["command"] = command
        if labels:
            c["dockerLabels"] = labels
        self.ecs.register_task_definition(
            family=family, requiresCompatibilities=["FARGATE"], networkMode="awsvpc",
            cpu=str(cpu), memory=str(memory), containerDefinitions=[c],
        )

    def wait_running(self, arns, timeout=120):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            tasks = self.ecs.describe_tasks(tasks=arns)["tasks"]
            if all(t["lastStatus"] == "RUNNING" for t in tasks):
                return tasks
            stopped = [t for t in tasks if t["lastStatus"] == "STOPPED"]
            if stopped:
                sys.exit(f"task stopped: {stopped[0].get('stoppedReason')}")
            time.sleep(0.05)
        sys.exit(f"tasks not RUNNING after {timeout} s")

    def run(self, family):
        r = self.ecs.run_task(taskDefinition=family, launchType="FARGATE", networkConfiguration=NET)
        if r["failures"]:
            sys.exit(f"RunTask {family}: {r['failures']}")
        return r["tasks"][0]["taskArn"]

    def address(self, arn):
        task = self.wait_running([arn])[0]
        details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
        return details["privateIPv4Address"]

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def http_rows(args, work, wasm):
    """wasmgate (cpu 4096, 1024; reuse none and sequential) and the listener against
    `wasmtime serve` (a fresh instance per request, and reusing instances)."""
    lb_config = (
        '[[lb.target_groups]]\nname = "web"\n'
        'health_check = { path = "/", interval_seconds = 1, timeout_seconds = 1, healthy_threshold = 2 }\n'
        '[[lb.listeners]]\nport = 0\ntarget_group = "web"\n'
    )
    serve = Serve(args.wasmgate, work, lb_config)
    setups = {}
    wt_procs = []
    try:
        for name, flags in (("wasmtime serve", []),
                            ("wasmtime serve, reusing instances", ["--max-instance-reuse-count", "1000000"]),
                            # wasmgate's default [pool] reset settings (keep-resident sizes,
                            # PAGEMAP_SCAN), given to wasmtime too: the same allocator on both sides.
                            ("wasmtime serve, same pool reset as wasmgate",
                             ["-O", "pooling-memory-keep-resident=1048576",
                              "-O", "pooling-table-keep-resident=65536",
                              "-O", "pooling-pagemap-scan=auto"])):
            port = free_port()
            log = os.path.join(work, f"wasmtime-{port}.log")
            # `-S cli`: the guest imports wasi:cli (its environment), which `serve` links only when asked.
            p = subprocess.Popen([args.wasmtime, "serve", "--addr", f"127.0.0.1:{port}", "-S", "cli", *flags, wasm],
                                 stdout=subprocess.DEVNULL, stderr=open(log, "w"))
            wt_procs.append(p)
            setups[name] = f"http://127.0.0.1:{port}/"
        for cpu, memory in ((4096, 8192), (1024, 2048)):
            serve.register(f"http{cpu}", wasm, cpu, memory)
            setups[f"wasmgate, task cpu {cpu}"] = f"http://{serve.address(serve.run(f'http{cpu}'))}:8080/"
        serve.register("httpreuse", wasm, 4096, 8192, labels={"wasmgate.instance-reuse": "sequential"})
        try:
            arn = serve.run("httpreuse")
            setups["wasmgate, task cpu 4096, instance reuse sequential"] = \
                f"http://{serve.address(arn)}:8080/"
        except SystemExit as e:  # the label is refused by a build without instance reuse
            print(f"instance reuse not measured: {e}", file=sys.stderr)
        # The target group's ARN as `lb show` prints it.
        tg_arn = subprocess.run(
            [args.wasmgate, "--config", os.path.join(serve.dir, "wasmgate.toml"), "lb", "show"],
            capture_output=True, text=True, check=True,
        ).stdout
        tg_arn = re.search(r"arn:aws:elasticloadbalancing:\S*targetgroup/web/\S+", tg_arn).group(0)
        serve.register("lbweb", wasm, 4096, 8192)
        serve.ecs.create_service(
            serviceName="lbweb", taskDefinition="lbweb", desiredCount=1, launchType="FARGATE",
            networkConfiguration=NET,
            loadBalancers=[{"targetGroupArn": tg_arn, "containerName": "main", "containerPort": 8080}],
        )
        serve.ecs.get_waiter("services_stable").wait(
            services=["lbweb"], WaiterConfig={"Delay": 1, "MaxAttempts": 120})
        arns = serve.ecs.list_tasks(serviceName="lbweb")["taskArns"]
        setups["lbweb task, straight to the task"] = f"http://{serve.address(arns[0])}:8080/"
        setups["lbweb task, through the built-in listener"] = serve.listener() + "/"
        for url in setups.values():
            wait_http(url)
        results = {name: [] for name in setups}
        for _ in range(args.rounds):
            for name, url in setups.items():
                results[name].append(wrk(url, args.seconds))
    finally:
        serve.stop()
        for p in wt_procs:
            p.terminate()
            p.wait()
    return {name: tuple(statistics.median(r[i] for r in runs) for i in range(3))
            for name, runs in results.items()}


def runtask_latency(args, work, sleep_wasm):
    """RunTask → RUNNING through boto3 on a `wasmgate serve` with the default config: the
    RunTask call alone, and until DescribeTasks first shows RUNNING (polled back to back)."""
    serve = Serve(args.wasmgate, os.path.join(work, "runtask"))
    # From botocore's before-send to its before-parse: the request on the wire and in the
    # host. The rest of a call is boto3's own (building, signing, parsing).
    wire = {"sent": 0.0, "total": 0.0}

    def sent(**_):
        wire["sent"] = time.perf_counter()

    def answered(**_):
        wire["total"] += time.perf_counter() - wire["sent"]

    serve.ecs.meta.events.register("before-send.ecs", sent)
    serve.ecs.meta.events.register("before-parse.ecs", answered)
    try:
        serve.register("idle", sleep_wasm, 256, 512, port=None, command=["600000"])
        serve.wait_running([serve.run("idle")])  # the compile is not counted
        calls, running, on_wire, polls = [], [], [], []
        for _ in range(args.runtask_samples):
            wire["total"] = 0.0
            t0 = time.perf_counter()
            r = serve.ecs.run_task(taskDefinition="idle", launchType="FARGATE", networkConfiguration=NET)
            calls.append(time.perf_counter() - t0)
            arn = r["tasks"][0]["taskArn"]
            n = 1
            while serve.ecs.describe_tasks(tasks=[arn])["tasks"][0]["lastStatus"] != "RUNNING":
                n += 1
            running.append(time.perf_counter() - t0)
            on_wire.append(wire["total"])
            polls.append(n)
            serve.ecs.stop_task(task=arn)
    finally:
        serve.stop()
    q = lambda xs, p: sorted(xs)[min(len(xs) - 1, int(len(xs) * p))] * 1000  # noqa: E731
    in_boto = [r - w for r, w in zip(running, on_wire)]
    return {"call_p50": q(calls, 0.5), "call_p99": q(calls, 0.99),
            "running_p50": q(running, 0.5), "running_p99": q(running, 0.99),
            "wire_p50": q(on_wire, 0.5), "boto_p50": q(in_boto, 0.5),
            "describes": statistics.mean(polls)}


def density(args):
    env = dict(os.environ, WASMGATE=args.wasmgate)
    out = subprocess.run(["sh", os.path.join(ROOT, "bench/density.sh"), str(args.tasks), "sleep"],
                         capture_output=True, text=True, env=env, check=True).stdout
    accepted = re.search(r"tasks accepted: (\d+) of (\d+); RUNNING: (\d+)", out).groups()
    per = re.search(r"per idle task: (-?[\d.]+) KiB, (-?[\d.]+) fds", out).groups()
    return {"accepted": int(accepted[0]), "asked": int(accepted[1]), "running": int(accepted[2]),
            "kib": float(per[0]), "fds": float(per[1]), "raw": out.strip()}


def runtime_bench(args):
    """The fuel ratio and the cold start of 10 distinct images from `cargo bench --bench
    runtime -- start fuel` (its own interleaving and noise lines)."""
    out = subprocess.run(["cargo", "bench", "-q", "--bench", "runtime", "--", "start", "fuel"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout
    row = lambda label: next(line for line in out.splitlines() if line.startswith(label))  # noqa: E731
    cells = lambda line: [c.strip() for c in line.strip("|").split("|")]  # noqa: E731
    # Columns: workload, off, default, default/off, all, all/off, ...
    fuel_row = cells(row("| producer → consumer"))
    fuel, fuel_all = (float(fuel_row[k].strip("*")) for k in (3, 5))
    ranking = next((line for line in out.splitlines() if line.startswith("Ranking by CPU meter")), "")
    one = float(cells(row("| 1 container | cold"))[3])
    ten = float(cells(row("| 10 containers, 10 distinct images | cold"))[3])
    return {"fuel": fuel, "fuel_all": fuel_all, "ranking": ranking,
            "cold_one_ms": one, "cold_ten_ms": ten}


def shown(name, value):
    print(f"{name}: {value}", flush=True)
    return value


def verdict(ok):
    return "**met**" if ok else "not met"


def table(http, lat, dens, rt):
    wt = http["wasmtime serve"][0]
    wtr = http["wasmtime serve, reusing instances"][0]
    rows = []

    def ratio(name, base):
        return http[name][0] / base if name in http else None

    r4096, r1024 = ratio("wasmgate, task cpu 4096", wt), ratio("wasmgate, task cpu 1024", wt)
    rows.append(("HTTP component on a task port vs `wasmtime serve`, task cpu 4096",
                 f"{r4096:.2f}×", "≥ 1.1×", verdict(r4096 >= 1.1)))
    rows.append(("same, task cpu 1024", f"{r1024:.2f}×", "≥ 1.0×", verdict(r1024 >= 1.0)))
    wtk = http.get("wasmtime serve, same pool reset as wasmgate", (None,))[0]
    if wtk:
        rows.append(("same, task cpu 4096, vs `wasmtime serve` given wasmgate's pool reset settings",
                     f"{http['wasmgate, task cpu 4096'][0] / wtk:.2f}×", "(no goal; same allocator setting)", ""))
    reuse = ratio("wasmgate, task cpu 4096, instance reuse sequential", wtr)
    if reuse is not None:
        rows.append(("instance reuse `sequential` vs `wasmtime serve --max-instance-reuse-count 1000000`",
                     f"{reuse:.2f}×", "(no goal; matching modes)", ""))
    lb = http["lbweb task, through the built-in listener"][0] / http["lbweb task, straight to the task"][0]
    rows.append(("through the built-in listener vs straight to the task", f"{lb:.2f}×", "≥ 0.92×",
                 verdict(lb >= 0.92)))
    rows.append(("idle tasks on one host with the default config",
                 f"{dens['running']:,} RUNNING of {dens['asked']:,} asked", "10,000 RUNNING",
                 verdict(dens["running"] >= 10000)))
    rows.append(("host memory per idle 1-container task", f"{dens['kib']:.0f} KiB", "< 64 KiB",
                 verdict(dens["kib"] < 64)))
    rows.append(("open file descriptors per idle task", f"{dens['fds']:.2f}", "≤ 1", verdict(dens["fds"] <= 1.0)))
    rows.append(("fuel metering cost on a CPU-bound task (default config: fuel only where a "
                 f"budget is set; every container counting it: ×{rt['fuel_all']:.2f}). "
                 + rt["ranking"], f"×{rt['fuel']:.2f}", "≤ ×1.05", verdict(rt["fuel"] <= 1.05)))
    rows.append(("RunTask → RUNNING through boto3, p50", f"{lat['running_p50']:.1f} ms", "< 2 ms",
                 verdict(lat["running_p50"] < 2)))
    k = rt["cold_ten_ms"] / rt["cold_one_ms"]
    rows.append(("cold start of a task with 10 distinct images",
                 f"{rt['cold_ten_ms']:.0f} ms = {k:.1f} × one image's {rt['cold_one_ms']:.0f} ms",
                 "≈ one compile on 2 cores (parallel)", verdict(k <= 6)))
    out = ["| measure | now | goal | |", "|---|---|---|---|"]
    out += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows]
    out += ["", "Every HTTP setup, medians of the rounds (`wrk -t1 -c16`):", "",
            "| setup | req/s | p50 ms | p99 ms |", "|---|---|---|---|"]
    out += [f"| {name} | {rps:,.0f} | {p50:.2f} | {p99:.2f} |" for name, (rps, p50, p99) in http.items()]
    out += ["", f"RunTask through boto3 (after a warm-up task): the call p50 {lat['call_p50']:.1f} ms, "
            f"p99 {lat['call_p99']:.1f} ms; to RUNNING p50 {lat['running_p50']:.1f} ms, p99 {lat['running_p99']:.1f} ms "
            f"(RunTask and {lat['describes']:.2f} DescribeTasks on average). Of the span to RUNNING, boto3 itself "
            f"(building, signing, parsing; botocore's before-send to before-parse is the rest) took p50 "
            f"{lat['boto_p50']:.1f} ms, the wire and the host p50 {lat['wire_p50']:.1f} ms.",
            "", "Density (`bench/density.sh`):", "", "```", dens["raw"], "```"]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--wasmgate", required=True)
    ap.add_argument("--wasmtime", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--tasks", type=int, default=10000)
    ap.add_argument("--runtask-samples", type=int, default=200)
    ap.add_argument("--only", default="http,runtask,density,runtime")
    ap.add_argument("--write", help="BENCHMARKS.md to update between the perf-table markers")
    args = ap.parse_args()
    only = set(args.only.split(","))
    wasm_dir = os.path.join(ROOT, "target", "wasm")
    work = tempfile.mkdtemp(prefix="perf-table-")
    started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    load_before = load_average()
    try:
        # Each section's figures are printed as it ends, so a later failure loses nothing.
        http = shown("http", http_rows(args, work, os.path.join(wasm_dir, "http-hello.wasm"))) \
            if "http" in only else None
        lat = shown("runtask", runtask_latency(args, work, os.path.join(wasm_dir, "sleep.wasm"))) \
            if "runtask" in only else None
        dens = shown("density", density(args)) if "density" in only else None
        rt = shown("runtime", runtime_bench(args)) if "runtime" in only else None
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if None in (http, lat, dens, rt):
        return
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=ROOT).stdout.strip()
    text = "\n".join([
        f"Recorded {started}, commit `{commit}`, load average (1 min) {load_before} at the start and "
        f"{load_average()} at the end, on the shared 2-vCPU machine. Command: `bench/perf-table.sh`.",
        "", table(http, lat, dens, rt)])
    print(text)
    if args.write:
        doc = open(args.write).read()
        begin, end = "<!-- perf-table:begin -->", "<!-- perf-table:end -->"
        if begin in doc:
            head, rest = doc.split(begin, 1)
            doc = head + begin + "\n" + text + "\n" + end + rest.split(end, 1)[1]
            open(args.write, "w").write(doc)


if __name__ == "__main__":
    main()
