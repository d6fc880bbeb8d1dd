"""Durability across host restarts, in phases that tests/e2e/api_state.rs runs around a server
stop (SIGTERM) or crash (SIGKILL) on the same data directory:

  state.py <port> restart-setup  <state.json>
  state.py <port> restart-verify <state.json>
  state.py <port> crash-setup    <state.json>
  state.py <port> crash-writer   <acks.txt>      (registers until the server dies)
  state.py <port> crash-verify   <state.json> <acks.txt>
"""

from wg import *  # noqa: F403

PHASE = ARGS[0]
FILE = ARGS[1]
GROUP = "/wg/keep"


def save(d):
    with open(FILE, "w") as f:
        json.dump(d, f, default=str, indent=1)


def load(path=None):
    with open(path or FILE) as f:
        return json.load(f)


def ts(v):
    return v.timestamp() if isinstance(v, datetime.datetime) else v


# ----------------------------------------------------------------------------- restart


if PHASE == "restart-setup":

    @step
    def setup():
        s = {}
        ecs.create_cluster(clusterName="keep", tags=[{"key": "tier", "value": "gold"}])
        ecs.tag_resource(resourceArn=cluster_arn("keep"), tags=[{"key": "extra", "value": "1"}])
        register("keep", [container("main", "echo", ["persist", "me"], log_group=GROUP)])
        td2 = register("keep", [container("main", "echo", ["persist", "me"], log_group=GROUP)])
        ecs.deregister_task_definition(taskDefinition="keep:1")
        ecs.tag_resource(resourceArn=td2["taskDefinitionArn"], tags=[{"key": "v", "value": "2"}])
        register("keep-sleep", [container("main", "sleep", ["600000"], stopTimeout=2)])
        # The newest revision deregistered: the next one must still be new after a restart.
        register("top", [container("main", "echo")])
        register("top", [container("main", "echo")])
        ecs.deregister_task_definition(taskDefinition="top:2")
        t = run_task("keep", cluster="keep", startedBy="keeper", tags=[{"key": "t", "value": "x"}])[0]
        wait_tasks("stopped", [t["taskArn"]], cluster="keep")
        d = describe_task(t["taskArn"], cluster="keep", include=["TAGS"])
        eq(d["containers"][0].get("exitCode"), 0, "exit code before restart")
        stream = f"p/main/{task_id(t['taskArn'])}"
        lines = [e["message"] for e in logs.get_log_events(logGroupName=GROUP, logStreamName=stream,
                                                          startFromHead=True)["events"]]
        check("arg[1]=persist" in lines, "logs before restart", lines)
        # A task still running when the host is stopped.
        r = run_task("keep-sleep", cluster="keep")[0]["taskArn"]
        wait_tasks("running", [r], cluster="keep")
        s.update(
            task=t["taskArn"],
            running=r,
            stream=stream,
            lines=lines,
            task_desc={k: ts(d.get(k)) for k in ("lastStatus", "stopCode", "stoppedReason", "startedBy",
                                                 "createdAt", "startedAt", "stoppedAt", "taskDefinitionArn")},
            task_tags=d.get("tags"),
            td2=td2["taskDefinitionArn"],
        )
        save(s)


if PHASE == "restart-verify":
    S = load()

    @step
    def clusters_survive():
        arns = ecs.list_clusters()["clusterArns"]
        eq(sorted(arns), sorted([cluster_arn("default"), cluster_arn("keep")]), "clusters after restart")
        c = ecs.describe_clusters(clusters=["keep"], include=["TAGS"])["clusters"]
        eq(len(c), 1, "keep describable")
        if c:
            eq(c[0]["status"], "ACTIVE", "keep ACTIVE")
            eq(sorted((t["key"], t["value"]) for t in c[0].get("tags", [])),
               [("extra", "1"), ("tier", "gold")], "cluster tags after restart")

    @step
    def definitions_survive():
        eq(ecs.describe_task_definition(taskDefinition="keep:1")["taskDefinition"]["status"], "INACTIVE",
           "keep:1 INACTIVE")
        d = ecs.describe_task_definition(taskDefinition="keep", include=["TAGS"])
        eq(d["taskDefinition"]["revision"], 2, "latest ACTIVE revision")
        eq(d["taskDefinition"]["containerDefinitions"][0].get("command"), ["persist", "me"], "definition body")
        eq(d.get("tags"), [{"key": "v", "value": "2"}], "task definition tags")
        eq(ecs.list_tags_for_resource(resourceArn=S["td2"])["tags"], [{"key": "v", "value": "2"}],
           "list_tags_for_resource on the definition")
        eq(register("keep", [container("main", "echo")])["revision"], 3, "revision counter survives")
        eq(register("top", [container("main", "echo")])["revision"], 3,
           "a deregistered newest revision is not reused after a restart")
        fams = ecs.list_task_definition_families()["families"]
        check({"keep", "keep-sleep"} <= set(fams), "families", fams)

    @step
    def stopped_task_history_survives():
        d = describe_task(S["task"], cluster="keep", include=["TAGS"])
        now = {k: ts(d.get(k)) for k in S["task_desc"]}
        for k, v in S["task_desc"].items():
            if isinstance(v, float) and isinstance(now.get(k), float):
                check(abs(v - now[k]) < 0.002, f"task {k} unchanged", (v, now[k]))
            else:
                eq(now.get(k), v, f"task {k} unchanged")
        eq(d.get("tags"), S["task_tags"], "task tags")
        eq(d["containers"][0].get("exitCode"), 0, "exit code survives")
        check(S["task"] in ecs.list_tasks(cluster="keep", desiredStatus="STOPPED")["taskArns"],
              "listed as STOPPED")

    @step
    def running_task_is_stopped():
        d = describe_task(S["running"], cluster="keep")
        eq(d["lastStatus"], "STOPPED", "the task running at shutdown is STOPPED")
        eq(d["desiredStatus"], "STOPPED", "desiredStatus")
        check(d.get("stoppedReason"), "with a stoppedReason", d)
        eq(ecs.list_tasks(cluster="keep")["taskArns"], [], "nothing RUNNING after restart")

    @step
    def logs_survive():
        lines = [e["message"] for e in logs.get_log_events(logGroupName=GROUP, logStreamName=S["stream"],
                                                          startFromHead=True)["events"]]
        eq(lines, S["lines"], "log events after restart")
        eq([g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix=GROUP)["logGroups"]],
           [GROUP], "log group after restart")
        ev = logs.filter_log_events(logGroupName=GROUP, filterPattern='"persist"')["events"]
        eq([e["message"] for e in ev], ["arg[1]=persist"], "filter after restart")

    @step
    def new_work_after_restart():
        arn = run_task("keep:3", cluster="keep")[0]["taskArn"]
        wait_tasks("stopped", [arn], cluster="keep")
        eq(describe_task(arn, cluster="keep")["containers"][0].get("exitCode"), 0, "a new task runs")


# ----------------------------------------------------------------------------- crash


if PHASE == "crash-setup":

    @step
    def setup():
        register("crash-sleep", [container("main", "sleep", ["600000"], stopTimeout=2)])
        ecs.create_cluster(clusterName="crash")
        arn = run_task("crash-sleep", cluster="crash")[0]["taskArn"]
        wait_tasks("running", [arn], cluster="crash")
        ecs.tag_resource(resourceArn=cluster_arn("crash"), tags=[{"key": "k", "value": "v"}])
        register("top", [container("main", "echo")])
        register("top", [container("main", "echo")])
        ecs.deregister_task_definition(taskDefinition="top:2")
        register("crash-echo", [container("main", "echo", ["before", "crash"], log_group="/wg/crash")])
        done = run_task("crash-echo", cluster="crash")[0]["taskArn"]
        wait_tasks("stopped", [done], cluster="crash")
        stream = f"p/main/{task_id(done)}"
        lines = [e["message"] for e in logs.get_log_events(logGroupName="/wg/crash", logStreamName=stream,
                                                          startFromHead=True)["events"]]
        check("arg[1]=before" in lines, "logs before the crash", lines)
        save({"running": arn, "done": done, "stream": stream, "lines": lines})


if PHASE == "crash-writer":

    @step
    def write_until_killed():
        """Registers and creates until the server dies; records every acknowledged write."""
        n = 0
        with open(FILE, "w") as out:
            for i in range(3000):
                try:
                    if i == 20:
                        # A task flooding the log store when the host dies.
                        register("crash-flood", [container("main", "flood", ["100000"], log_group="/wg/crash")])
                        t = run_task("crash-flood", cluster="crash")[0]["taskArn"]
                        out.write(f"flood {t}\n")
                    elif i % 3 == 2:
                        ecs.create_cluster(clusterName=f"burst-{i}")
                        out.write(f"cluster burst-{i}\n")
                    else:
                        td = register("burst", [container("main", "echo", [str(i)])])
                        out.write(f"td {td['taskDefinitionArn']} {i}\n")
                except Exception as e:  # the server was killed mid-request
                    print(f"writer stopped after {n} acknowledged writes: {type(e).__name__}", flush=True)
                    return
                out.flush()
                n += 1
                print(f"acked {n}", flush=True)
        check(False, "the server was never killed")


if PHASE == "crash-verify":
    S = load()
    ACKS = [line.split() for line in open(ARGS[2]) if line.strip()]

    @step
    def running_task_recorded_stopped():
        d = describe_task(S["running"], cluster="crash")
        eq(d["lastStatus"], "STOPPED", "a task running at the crash is STOPPED on the next start")
        eq(d["desiredStatus"], "STOPPED", "desiredStatus")
        reason = d.get("stoppedReason") or ""
        check("host" in reason.lower(), "stoppedReason says the host stopped", reason)
        check(is_epoch_seconds(d.get("stoppedAt")), "stoppedAt", d.get("stoppedAt"))
        wait_tasks("stopped", [S["running"]], cluster="crash")
        eq(ecs.list_tasks(cluster="crash")["taskArns"], [], "no RUNNING task in the crashed cluster")
        eq(ecs.list_tags_for_resource(resourceArn=cluster_arn("crash"))["tags"], [{"key": "k", "value": "v"}],
           "tags written before the crash")

    @step
    def finished_work_survives():
        d = describe_task(S["done"], cluster="crash")
        eq((d["lastStatus"], d["containers"][0].get("exitCode")), ("STOPPED", 0), "the finished task")
        lines = [e["message"] for e in logs.get_log_events(logGroupName="/wg/crash", logStreamName=S["stream"],
                                                          startFromHead=True)["events"]]
        eq(lines, S["lines"], "its logs")
        eq(register("top", [container("main", "echo")])["revision"], 3,
           "a deregistered newest revision is not reused after a crash")

    @step
    def log_store_consistent_after_crash():
        floods = [a[1] for a in ACKS if a[0] == "flood"]
        eq(len(floods), 1, "the flood task was started")
        if not floods:
            return
        d = describe_task(floods[0], cluster="crash")
        eq(d["lastStatus"], "STOPPED", "the flood task is STOPPED")
        stream = f"p/main/{task_id(floods[0])}"
        got, token = [], None
        exists = any(s["logStreamName"] == stream for s in
                     logs.describe_log_streams(logGroupName="/wg/crash", logStreamNamePrefix="p/main/")["logStreams"])
        for _ in range(200):
            if not exists:
                break
            kw = {"logGroupName": "/wg/crash", "logStreamName": stream, "startFromHead": True, "limit": 10000}
            if token:
                kw["nextToken"] = token
            r = logs.get_log_events(**kw)
            got.extend(e["message"] for e in r["events"])
            if r["nextForwardToken"] == token:
                break
            token = r["nextForwardToken"]
        want = [f"line {i} " + "x" * (100 - len(f"line {i} ")) for i in range(1, len(got) + 1)]
        if got and got[-1] != want[-1] and want[-1].startswith(got[-1]):
            want[-1] = got[-1]
        bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
        check(got == want, "the flood's stored lines are line 1..k, no gap, no repeat",
              None if bad is None else {"index": bad, "got": got[bad:bad + 2], "want": want[bad:bad + 2]})
        print(f"the flood had {len(got)} lines stored when the host died")

    @step
    def every_acknowledged_write_is_there():
        check(len(ACKS) >= 20, "the writer got acknowledgements before the kill", len(ACKS))
        clusters = set(paginate(ecs.list_clusters, "clusterArns", maxResults=100))
        tds = set(paginate(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="burst", maxResults=100))
        lost = []
        for a in ACKS:
            if a[0] == "cluster" and cluster_arn(a[1]) not in clusters:
                lost.append(a)
            if a[0] == "td":
                if a[1] not in tds:
                    lost.append(a)
                else:
                    cmd = ecs.describe_task_definition(taskDefinition=a[1])["taskDefinition"][
                        "containerDefinitions"][0].get("command")
                    if cmd != [a[2]]:
                        lost.append(a + ["wrong body", cmd])
        eq(lost, [], "acknowledged writes lost in the crash")
        revs = sorted(int(a.rsplit(":", 1)[1]) for a in tds)
        eq(revs, list(range(1, len(revs) + 1)), "burst revisions are 1..n without gaps")
        nxt = register("burst", [container("main", "echo")])["revision"]
        check(nxt > max(revs or [0]), "the next revision is new", (nxt, max(revs or [0])))

    @step
    def host_works_after_crash():
        arn = run_task("crash-sleep", cluster="crash", overrides={
            "containerOverrides": [{"name": "main", "command": ["10"]}]})[0]["taskArn"]
        wait_tasks("stopped", [arn], cluster="crash")
        eq(describe_task(arn, cluster="crash")["containers"][0].get("exitCode"), 0, "a new task runs")


main()
