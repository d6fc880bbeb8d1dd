"""Hostile tenant: a PutMetricData flood (issue 14). A caller with its own key (`flood`)
sends PutMetricData from 6 threads as fast as it can: 1,000 data per request with ever-new
dimension values (a series explosion) across ever-new namespaces, and batches of 150
values per datum. Meanwhile a well-behaved caller (`test`) puts one value every 200 ms
and reads its series back. The host's limits (set by the Rust side: 20 requests/s and
3,000 values/s per caller, 300 series per caller) must hold:

- the flooder gets `Throttling` ("Rate exceeded", CloudWatch's code) and, past its
  series, `LimitExceeded` naming `max_series_per_caller`; it never holds more than 300;
- every one of the bystander's calls succeeds, and it reads back every value it put;
- the host's own metrics keep arriving (`wasmgate` CompileCacheHits, published every
  second, has data points from after the flood began).

Arguments: the flood key's secret (the key id is `flood`)."""

import threading
from collections import Counter

from wg import *  # noqa: F403

FLOOD_SECRET = ARGS[0]
FLOOD_SECONDS = 15
MAX_SERIES = 300
flood = client("cloudwatch", key="flood", secret=FLOOD_SECRET)
cw = client("cloudwatch")
errors = Counter()
messages = {}
accepted = [0]
lock = threading.Lock()
stop = threading.Event()
START = time.time()


def utc(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc)


def flooder(n):
    i = 0
    while not stop.is_set():
        i += 1
        if i % 3:
            # A series explosion: every datum a new dimension value, in a new namespace;
            # 1,000 at once, or 50 (which fit until the caller's cap is reached).
            data = [{
                "MetricName": "Boom",
                "Dimensions": [{"Name": "Id", "Value": f"{n}-{i}-{j}"}],
                "Value": float(j),
            } for j in range(1000 if i % 3 == 1 else 50)]
            ns = f"Flood/{n}/{i}"
        else:
            # Huge batches into few series.
            data = [{
                "MetricName": "Big",
                "Dimensions": [{"Name": "Id", "Value": str(j)}],
                "Values": [float(k) for k in range(150)],
                "StorageResolution": 1,
            } for j in range(20)]
            ns = "Flood/big"
        try:
            flood.put_metric_data(Namespace=ns, MetricData=data)
            with lock:
                accepted[0] += 1
        except ClientError as e:
            code = e.response["Error"]["Code"]
            with lock:
                errors[code] += 1
                messages.setdefault(code, e.response["Error"].get("Message", ""))
        except Exception as e:  # noqa: BLE001 - a transport failure is a finding
            with lock:
                errors[f"transport:{type(e).__name__}"] += 1


bystander_failures = []
bystander_put = []


def bystander():
    while not stop.is_set():
        t = int(time.time())
        try:
            cw.put_metric_data(Namespace="Bystander", MetricData=[{
                "MetricName": "Beat", "Value": 1.0, "Timestamp": utc(t), "StorageResolution": 1,
            }])
            bystander_put.append(t)
        except Exception as e:  # noqa: BLE001
            bystander_failures.append(repr(e))
        time.sleep(0.2)


def beats(since):
    r = cw.get_metric_data(
        MetricDataQueries=[{
            "Id": "b",
            "MetricStat": {
                "Metric": {"Namespace": "Bystander", "MetricName": "Beat"},
                "Period": 3600,
                "Stat": "SampleCount",
            },
        }],
        StartTime=utc(since - 3600),
        EndTime=utc(time.time() + 60),
    )
    return sum(r["MetricDataResults"][0]["Values"])


@step
def a_flood_is_throttled_and_capped_while_others_keep_working():
    threads = [threading.Thread(target=flooder, args=(n,)) for n in range(6)]
    threads.append(threading.Thread(target=bystander))
    for t in threads:
        t.start()
    time.sleep(FLOOD_SECONDS)
    stop.set()
    for t in threads:
        t.join()
    print(f"flooder: {accepted[0]} accepted, errors {dict(errors)}")
    print(f"messages: {messages}")
    check(errors["Throttling"] > 0, "the flooder was throttled", dict(errors))
    eq(messages.get("Throttling"), "Rate exceeded", "Throttling message")
    check(errors["LimitExceeded"] > 0, "the flooder hit its series cap", dict(errors))
    check("max_series_per_caller" in messages.get("LimitExceeded", ""),
          "the cap is named", messages)
    check(not any(k.startswith("transport") or k == "InternalServiceFault" for k in errors),
          "no transport failure or server fault", dict(errors))
    eq(bystander_failures, [], "the bystander's PutMetricData calls all succeeded")
    check(len(bystander_put) >= 5, "the bystander kept putting", len(bystander_put))
    eq(beats(START), len(bystander_put), "every bystander value reads back")


@step
def the_flooder_holds_at_most_its_series():
    held = 0
    for page in cw.get_paginator("list_metrics").paginate(MetricName="Boom"):
        held += len(page["Metrics"])
    for page in cw.get_paginator("list_metrics").paginate(MetricName="Big"):
        held += len(page["Metrics"])
    print(f"flooder series held: {held}")
    check(20 < held <= MAX_SERIES, f"flooder series {held} within {MAX_SERIES}")


@step
def the_hosts_own_metrics_keep_arriving():
    after = time.time()

    def fresh():
        r = cw.get_metric_statistics(
            Namespace="wasmgate", MetricName="CompileCacheHits", Dimensions=[],
            StartTime=utc(after), EndTime=utc(time.time() + 60),
            Period=1, Statistics=["SampleCount"],
        )
        return len(r["Datapoints"]) > 0

    wait_until(fresh, "CompileCacheHits published after the flood", timeout=40, interval=1)


if __name__ == "__main__":
    main()
