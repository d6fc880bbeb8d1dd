"""The awslogs driver seen through the CloudWatch Logs API with boto3: GetLogEvents (order,
forward-token pagination that terminates, newest page by default), FilterLogEvents,
DescribeLogGroups/Streams, CreateLogGroup/DeleteLogGroup, errors."""

from wg import *  # noqa: F403

GROUP = "/wg/test"
WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
S = {}


@step
def run_tasks():
    register("logger", [container("main", "echo", WORDS, log_group=GROUP)])
    register("sleeplog", [container("main", "sleep", ["5"], log_group=GROUP)])
    a = run_task("logger")[0]["taskArn"]
    b = run_task("sleeplog")[0]["taskArn"]
    wait_tasks("stopped", [a, b])
    S["echo_stream"] = f"p/main/{task_id(a)}"
    S["sleep_stream"] = f"p/main/{task_id(b)}"


@step
def get_log_events_in_order():
    t_before = time.time()
    r = logs.get_log_events(logGroupName=GROUP, logStreamName=S["echo_stream"], startFromHead=True)
    ev = r["events"]
    lines = [e["message"] for e in ev]
    want = ["arg[0]=main"] + [f"arg[{i + 1}]={w}" for i, w in enumerate(WORDS)]
    eq(lines[: len(want)], want, "the guest's lines, in order")
    check(all(not l.startswith("arg[") for l in lines[len(want):]), "then only env lines", lines)
    ts = [e.get("timestamp") for e in ev]
    check(all(is_epoch_ms(t) for t in ts), "timestamps are epoch milliseconds", ts[:3])
    check(ts == sorted(ts), "timestamps never go back", ts)
    check(all(is_epoch_ms(e.get("ingestionTime")) for e in ev), "ingestionTime in ms", ev[:1])
    check(all(t <= t_before * 1000 + 1000 for t in ts if isinstance(t, int)), "timestamps not in the future", ts)
    check(r.get("nextForwardToken") and r.get("nextBackwardToken"), "tokens never null", r)
    S["all"] = lines


@step
def forward_pagination_terminates():
    got, token, seen = [], None, []
    for _ in range(100):
        kw = {"logGroupName": GROUP, "logStreamName": S["echo_stream"], "limit": 3, "startFromHead": True}
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        check(len(r["events"]) <= 3, "limit honoured", len(r["events"]))
        got.extend(e["message"] for e in r["events"])
        nxt = r.get("nextForwardToken")
        check(nxt, "a forward token on every page", r)
        if nxt == token:
            check(r["events"] == [], "the end: no events with the same token", r["events"])
            break
        check(nxt not in seen, "forward tokens do not cycle", nxt)
        seen.append(nxt)
        token = nxt
    else:
        check(False, "following nextForwardToken never reached the end (same token back)")
    eq(got, S.get("all"), "pages add up to the whole stream")


@step
def newest_page_by_default():
    r = logs.get_log_events(logGroupName=GROUP, logStreamName=S["echo_stream"], limit=3)
    eq([e["message"] for e in r["events"]], S.get("all", [])[-3:], "startFromHead=false: the last 3, in order")
    # Going backwards from there reaches the start.
    got, token = [e["message"] for e in r["events"]], r.get("nextBackwardToken")
    for _ in range(100):
        r = logs.get_log_events(logGroupName=GROUP, logStreamName=S["echo_stream"], limit=3, nextToken=token)
        if not r["events"]:
            break
        got = [e["message"] for e in r["events"]] + got
        token = r.get("nextBackwardToken")
    eq(got, S.get("all"), "backward pages add up to the whole stream")


@step
def group_identifier_and_time_range():
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"
    r = logs.get_log_events(logGroupIdentifier=arn, logStreamName=S["echo_stream"], startFromHead=True)
    eq([e["message"] for e in r["events"]], S.get("all"), "logGroupIdentifier (ARN)")
    r = logs.get_log_events(logGroupIdentifier=GROUP, logStreamName=S["echo_stream"], startFromHead=True)
    eq([e["message"] for e in r["events"]], S.get("all"), "logGroupIdentifier (name)")
    expect_error("both logGroupName and logGroupIdentifier", "InvalidParameterException",
                 logs.get_log_events, logGroupName=GROUP, logGroupIdentifier=GROUP, logStreamName=S["echo_stream"])
    ev = logs.get_log_events(logGroupName=GROUP, logStreamName=S["echo_stream"], startFromHead=True)["events"]
    last = ev[-1]["timestamp"]
    r = logs.get_log_events(logGroupName=GROUP, logStreamName=S["echo_stream"], startTime=last + 1)
    eq(r["events"], [], "startTime after the last event")
    r = logs.get_log_events(logGroupName=GROUP, logStreamName=S["echo_stream"], startFromHead=True,
                            endTime=ev[0]["timestamp"])
    check(all(e["timestamp"] < ev[0]["timestamp"] for e in r["events"]), "endTime is exclusive", r["events"])
    # A tail-style follow (aws logs tail in CLI v2): FilterLogEvents with startTime.
    r = logs.filter_log_events(logGroupName=GROUP, startTime=last)
    check(r["events"] and all(e["timestamp"] >= last for e in r["events"]), "filter startTime", r["events"])
    expect_error("orderBy LastEventTime with a prefix", "InvalidParameterException",
                 logs.describe_log_streams, logGroupName=GROUP, orderBy="LastEventTime", logStreamNamePrefix="p/")
    r = logs.describe_log_streams(logGroupName=GROUP, orderBy="LastEventTime", descending=True)
    ts = [s.get("lastEventTimestamp", 0) for s in r["logStreams"]]
    eq(ts, sorted(ts, reverse=True), "orderBy LastEventTime descending")


@step
def filter_log_events():
    r = logs.filter_log_events(logGroupName=GROUP, filterPattern='"slept"')
    ev = r["events"]
    eq([e["message"] for e in ev], ["slept 5"], "filterPattern '\"slept\"'")
    if ev:
        eq(ev[0].get("logStreamName"), S["sleep_stream"], "event's stream")
        check(ev[0].get("eventId"), "eventId", ev[0])
        check(is_epoch_ms(ev[0].get("timestamp")), "timestamp ms", ev[0])
    r = logs.filter_log_events(logGroupName=GROUP, filterPattern="twelve")
    eq([e["message"] for e in r["events"]], ["arg[12]=twelve"], "unquoted term")
    r = logs.filter_log_events(logGroupName=GROUP, logStreamNames=[S["echo_stream"]], filterPattern='"slept"')
    eq(r["events"], [], "logStreamNames restricts the search")
    every = logs.get_paginator("filter_log_events").paginate(
        logGroupName=GROUP, PaginationConfig={"PageSize": 4}
    ).build_full_result()["events"]
    eq(sorted(e["message"] for e in every), sorted(S.get("all", []) + ["slept 5"]),
       "empty pattern, paged by 4: every event once")


@step
def describe_groups_and_streams():
    groups = logs.describe_log_groups(logGroupNamePrefix="/wg/")["logGroups"]
    names = [g["logGroupName"] for g in groups]
    eq(names, [GROUP], "describe_log_groups(prefix)")
    if groups:
        check(is_epoch_ms(groups[0].get("creationTime")), "creationTime ms", groups[0])
        check(groups[0].get("arn", "").startswith(f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{GROUP}"),
              "log group arn", groups[0])
    streams = logs.describe_log_streams(logGroupName=GROUP)["logStreams"]
    eq(sorted(s["logStreamName"] for s in streams), sorted([S["echo_stream"], S["sleep_stream"]]),
       "describe_log_streams")
    for s in streams:
        check(is_epoch_ms(s.get("creationTime")), "stream creationTime", s)
        check(is_epoch_ms(s.get("lastEventTimestamp")), "stream lastEventTimestamp", s)
    paged = paginate(logs.describe_log_streams, "logStreams", logGroupName=GROUP, limit=1)
    eq(sorted(s["logStreamName"] for s in paged), sorted([S["echo_stream"], S["sleep_stream"]]),
       "describe_log_streams limit=1 pages")
    pre = logs.describe_log_streams(logGroupName=GROUP, logStreamNamePrefix=S["sleep_stream"][:20])
    eq([s["logStreamName"] for s in pre["logStreams"]], [S["sleep_stream"]], "logStreamNamePrefix")


@step
def follow_a_growing_stream():
    """A tail-style follow: poll GetLogEvents with the forward token while a task floods
    its stdout, stop it after a while, and read on to the end. Thousands of lines share a
    millisecond, so a token that only remembers a timestamp would skip or repeat lines."""
    # A small CPU share (64/1024 of a CPU) keeps the flood to some 10^4 lines a second.
    register("flood", [container("main", "flood", log_group="/wg/flood", stopTimeout=2, cpu=64)])
    arn = run_task("flood")[0]["taskArn"]
    stream = f"p/main/{task_id(arn)}"
    wait_until(lambda: logs.describe_log_groups(logGroupNamePrefix="/wg/flood")["logGroups"]
               and logs.describe_log_streams(logGroupName="/wg/flood")["logStreams"],
               "the flood stream to appear")
    got, token, polls, stop_sent, stopped, caught_up = [], None, 0, False, False, 0
    while polls < 5000:
        polls += 1
        kw = {"logGroupName": "/wg/flood", "logStreamName": stream, "startFromHead": True, "limit": 2000}
        if token:
            kw["nextToken"] = token
        r = logs.get_log_events(**kw)
        got.extend(e["message"] for e in r["events"])
        same = r["nextForwardToken"] == token
        token = r["nextForwardToken"]
        if not stop_sent and len(got) >= 10000:
            ecs.stop_task(task=arn, reason="enough")
            stop_sent = True
        if same and not r["events"]:
            if stopped:
                break
            stopped = describe_task(arn)["lastStatus"] == "STOPPED"
            if not stopped:
                caught_up += 1
                time.sleep(0.02)
    check(stopped, "the flood task stopped", describe_task(arn)["lastStatus"])
    want = [f"line {i} " + "x" * (100 - len(f"line {i} ")) for i in range(1, len(got) + 1)]
    check(len(got) >= 10000, "followed at least 10000 lines", len(got))
    if got and want and got[-1] != want[-1] and want[-1].startswith(got[-1]):
        want[-1] = got[-1]  # the instance was dropped in the middle of a write: a partial last line
    first_bad = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), None)
    check(got == want, "every line exactly once, in order", None if first_bad is None else
          {"index": first_bad, "got": got[first_bad:first_bad + 3], "want": want[first_bad:first_bad + 3]})
    print(f"followed {len(got)} lines in {polls} polls, caught up {caught_up} times while it ran")
    S["flood_want"] = want


@step
def filter_pages_over_same_millisecond_events():
    r = logs.get_paginator("filter_log_events").paginate(
        logGroupName="/wg/flood", filterPattern='"line 1"', PaginationConfig={"PageSize": 500}
    ).build_full_result()
    got = [e["message"] for e in r["events"]]
    want = [w for w in S.get("flood_want", []) if "line 1" in w]
    eq(len(got), len(want), "filter_log_events count over pages of 500")
    check(got == want, "every matching line once, in order", got[:3])
    ids = [e["eventId"] for e in r["events"]]
    eq(len(set(ids)), len(ids), "eventIds are unique")


@step
def create_and_delete_groups():
    logs.create_log_group(logGroupName="/wg/made")
    check("/wg/made" in [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/wg/")["logGroups"]],
          "created group listed")
    expect_error("create_log_group twice", "ResourceAlreadyExistsException",
                 logs.create_log_group, logGroupName="/wg/made")
    logs.delete_log_group(logGroupName="/wg/made")
    check("/wg/made" not in [g["logGroupName"] for g in logs.describe_log_groups(logGroupNamePrefix="/wg/")["logGroups"]],
          "deleted group not listed")
    expect_error("delete_log_group twice", "ResourceNotFoundException",
                 logs.delete_log_group, logGroupName="/wg/made")


@step
def log_errors():
    expect_error("get_log_events(unknown group)", "ResourceNotFoundException",
                 logs.get_log_events, logGroupName="/wg/none", logStreamName="x")
    expect_error("get_log_events(unknown stream)", "ResourceNotFoundException",
                 logs.get_log_events, logGroupName=GROUP, logStreamName="p/main/none")
    expect_error("filter_log_events(unknown group)", "ResourceNotFoundException",
                 logs.filter_log_events, logGroupName="/wg/none")
    expect_error("describe_log_streams(unknown group)", "ResourceNotFoundException",
                 logs.describe_log_streams, logGroupName="/wg/none")
    expect_error("get_log_events(limit=0) unvalidated", "InvalidParameterException",
                 logs_raw.get_log_events, logGroupName=GROUP, logStreamName=S["echo_stream"], limit=0)
    expect_error("describe_log_groups(limit=51)", "InvalidParameterException",
                 logs.describe_log_groups, limit=51)
    expect_error("get_log_events(bad token)", "InvalidParameterException",
                 logs.get_log_events, logGroupName=GROUP, logStreamName=S["echo_stream"], nextToken="garbage")


main()
