"""CloudWatch with boto3 (its default protocol, smithy-rpc-v2-cbor): PutMetricData then
GetMetricData with percentiles and math, GetMetricStatistics, ListMetrics, an alarm going
OK -> ALARM -> OK, DescribeAlarmHistory, bad input with CloudWatch's codes naming the
member. `cloudwatch.py PORT restart` checks that data from a first run survived."""

from wg import *  # noqa: F403

cw = client("cloudwatch")
cw_raw = client("cloudwatch", validate=False)
NS = "WG/Test"
DIMS = [{"Name": "Service", "Value": "web"}]
NOW = int(time.time())
S = {}


def metric(name, dims=DIMS):
    return {"Namespace": NS, "MetricName": name, "Dimensions": dims}


def stat_query(qid, name, stat, period=60, **kw):
    return {"Id": qid, "MetricStat": {"Metric": metric(name), "Period": period, "Stat": stat}, **kw}


def window():
    start = datetime.datetime.fromtimestamp(NOW - 600, datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(NOW + 60, datetime.timezone.utc)
    return start, end


@step
def protocol_is_cbor():
    eq(cw.meta.service_model.protocol, "smithy-rpc-v2-cbor", "boto3 speaks CBOR to CloudWatch")


@step
def put_then_get_metric_data_with_percentiles():
    t = datetime.datetime.fromtimestamp(NOW - 120, datetime.timezone.utc)
    # 1..100 in one datum (Values), plus a statistic set in the same minute.
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "Latency", "Dimensions": DIMS, "Timestamp": t, "Values": [float(i) for i in range(1, 101)],
         "Unit": "Milliseconds", "StorageResolution": 1},
        {"MetricName": "Requests", "Dimensions": DIMS, "Timestamp": t, "Value": 30.0, "Unit": "Count"},
        {"MetricName": "Errors", "Dimensions": DIMS, "Timestamp": t,
         "StatisticValues": {"SampleCount": 2, "Sum": 3, "Minimum": 1, "Maximum": 2}, "Unit": "Count"},
    ])
    start, end = window()
    r = cw.get_metric_data(StartTime=start, EndTime=end, ScanBy="TimestampAscending", MetricDataQueries=[
        stat_query("p50", "Latency", "p50"),
        stat_query("p90", "Latency", "p90"),
        stat_query("p99", "Latency", "p99"),
        stat_query("avg", "Latency", "Average"),
        stat_query("req", "Requests", "Sum", ReturnData=False),
        stat_query("err", "Errors", "Sum", ReturnData=False),
        {"Id": "rate", "Expression": "100 * err / req", "Label": "error rate"},
        {"Id": "total", "Expression": "SUM([req, err])"},
    ])
    got = {x["Id"]: x for x in r["MetricDataResults"]}
    eq(sorted(got), ["avg", "p50", "p90", "p99", "rate", "total"], "returned queries")
    eq(got["p50"]["Values"], [50.0], "p50")
    eq(got["p90"]["Values"], [90.0], "p90")
    eq(got["p99"]["Values"], [99.0], "p99")
    eq(got["avg"]["Values"], [50.5], "average")
    eq(got["rate"]["Values"], [10.0], "metric math")
    eq(got["rate"]["Label"], "error rate", "label")
    eq(got["total"]["Values"], [33.0], "SUM over an array")
    eq(got["p50"]["StatusCode"], "Complete", "status")
    minute = (NOW - 120) - (NOW - 120) % 60
    eq([int(x.timestamp()) for x in got["p50"]["Timestamps"]], [minute], "the minute's timestamp")


@step
def get_metric_data_pages_and_scan_order():
    t0 = NOW - 300
    cw.put_metric_data(Namespace=NS, MetricData=[
        {"MetricName": "Ticks", "Dimensions": DIMS, "Value": float(i), "StorageResolution": 1,
         "Timestamp": datetime.datetime.fromtimestamp(t0 + i, datetime.timezone.utc)} for i in range(10)])
    start = datetime.datetime.fromtimestamp(t0, datetime.timezone.utc)
    end = datetime.datetime.fromtimestamp(t0 + 10, datetime.timezone.utc)
    q = [stat_query("t", "Ticks", "Sum", period=1)]
    values, token, pages = [], None, 0
    while True:
        kw = {"NextToken": token} if token else {}
        r = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=q, MaxDatapoints=4, **kw)
        values += r["MetricDataResults"][0]["Values"]
        pages += 1
        token = r.get("NextToken")
        if not token or pages > 5:
            break
    eq(values, [float(i) for i in range(9, -1, -1)], "descending by default, across pages")
    eq(pages, 3, "pages of 4")
    expect_error("GetMetricData over the datapoint limit", "InvalidParameterCombination",
                 cw.get_metric_data, StartTime=start - datetime.timedelta(days=2), EndTime=end,
                 MetricDataQueries=q, contains="exceeds the limit of 100800")
    expect_error("GetMetricData bad token", "InvalidNextToken",
                 cw.get_metric_data, StartTime=start, EndTime=end, MetricDataQueries=q, NextToken="nope")
    expect_error("GetMetricData bad expression", "InvalidParameterValue",
                 cw.get_metric_data, StartTime=start, EndTime=end,
                 MetricDataQueries=q + [{"Id": "e", "Expression": "t +"}], contains="Error in expression e")


@step
def get_metric_statistics():
    start, end = window()
    r = cw.get_metric_statistics(Namespace=NS, MetricName="Latency", Dimensions=DIMS, StartTime=start,
                                 EndTime=end, Period=60, Statistics=["SampleCount", "Maximum"],
                                 ExtendedStatistics=["p90"])
    eq(len(r["Datapoints"]), 1, "one minute of data")
    dp = r["Datapoints"][0]
    eq((dp["SampleCount"], dp["Maximum"], dp["ExtendedStatistics"]), (100.0, 100.0, {"p90": 90.0}), "datapoint")
    eq(dp["Unit"], "Milliseconds", "unit")
    eq(r["Label"], "Latency", "label")
    expect_error("GetMetricStatistics over 1440 datapoints", "InvalidParameterCombination",
                 cw.get_metric_statistics, Namespace=NS, MetricName="Latency", StartTime=start - datetime.timedelta(days=2),
                 EndTime=end, Period=60, Statistics=["Sum"], contains="exceeds the limit of 1440")


@step
def list_metrics():
    r = cw.list_metrics(Namespace=NS)
    names = sorted(m["MetricName"] for m in r["Metrics"])
    check({"Latency", "Requests", "Errors", "Ticks"} <= set(names), "every metric listed", names)
    r = cw.list_metrics(Namespace=NS, MetricName="Latency", Dimensions=[{"Name": "Service"}], RecentlyActive="PT3H")
    eq(r["Metrics"], [metric("Latency")], "filtered by name and dimension")
    eq(cw.list_metrics(Namespace=NS, Dimensions=[{"Name": "Service", "Value": "db"}])["Metrics"], [], "no match")


@step
def alarm_ok_alarm_ok():
    cw.put_metric_alarm(AlarmName="wg-high", Namespace=NS, MetricName="Load", Dimensions=DIMS, Statistic="Maximum",
                        Period=10, EvaluationPeriods=1, Threshold=50.0,
                        ComparisonOperator="GreaterThanThreshold", TreatMissingData="missing")
    a = cw.describe_alarms(AlarmNames=["wg-high"])["MetricAlarms"][0]
    eq(a["StateValue"], "INSUFFICIENT_DATA", "a new alarm")
    eq(a["AlarmArn"], "arn:aws:cloudwatch:us-east-1:000000000000:alarm:wg-high", "ARN")

    def feed_until(value, state):
        def poll():
            cw.put_metric_data(Namespace=NS, MetricData=[
                {"MetricName": "Load", "Dimensions": DIMS, "Value": value, "StorageResolution": 1}])
            return cw.describe_alarms(AlarmNames=["wg-high"], StateValue=state)["MetricAlarms"]
        return wait_until(poll, f"the alarm in {state}", timeout=45, interval=1)

    check(feed_until(10.0, "OK"), "OK under the threshold")
    found = feed_until(90.0, "ALARM")
    if check(found, "ALARM over the threshold"):
        check("greater than the threshold (50.0)" in found[0]["StateReason"], "reason", found[0]["StateReason"])
        json.loads(found[0]["StateReasonData"])
    check(feed_until(10.0, "OK"), "OK again")
    h = cw.describe_alarm_history(AlarmName="wg-high", HistoryItemType="StateUpdate", ScanBy="TimestampAscending")
    summaries = [x["HistorySummary"] for x in h["AlarmHistoryItems"]]
    eq(summaries, ["Alarm updated from INSUFFICIENT_DATA to OK", "Alarm updated from OK to ALARM",
                   "Alarm updated from ALARM to OK"], "history")
    data = json.loads(h["AlarmHistoryItems"][1]["HistoryData"])
    eq((data["oldState"]["stateValue"], data["newState"]["stateValue"]), ("OK", "ALARM"), "history data")
    eq([a["AlarmName"] for a in cw.describe_alarms_for_metric(Namespace=NS, MetricName="Load", Dimensions=DIMS)["MetricAlarms"]],
       ["wg-high"], "alarms for the metric")
    cw.set_alarm_state(AlarmName="wg-high", StateValue="ALARM", StateReason="testing")
    eq(cw.describe_alarms(AlarmNames=["wg-high"])["MetricAlarms"][0]["StateReason"], "testing", "SetAlarmState")
    expect_error("SetAlarmState unknown alarm", "ResourceNotFound", cw.set_alarm_state, AlarmName="none",
                 StateValue="OK", StateReason="x", status=404)
    cw.delete_alarms(AlarmNames=["wg-high"])
    eq(cw.describe_alarms(AlarmNamePrefix="wg-")["MetricAlarms"], [], "deleted")


@step
def bad_input():
    one = {"MetricName": "m", "Value": 1.0}
    expect_error("AWS/ namespace", "InvalidParameterValue", cw.put_metric_data, Namespace="AWS/ECS",
                 MetricData=[one], contains="parameter Namespace")
    expect_error("1001 datums", "InvalidParameterValue", cw.put_metric_data, Namespace=NS,
                 MetricData=[one] * 1001, contains="MetricData must not have a size greater than 1000")
    dims = [{"Name": f"d{i}", "Value": "v"} for i in range(31)]
    expect_error("31 dimensions", "InvalidParameterValue", cw_raw.put_metric_data, Namespace=NS,
                 MetricData=[{**one, "Dimensions": dims}], contains="MetricData.member.1.Dimensions")
    expect_error("NaN", "InvalidParameterValue", cw.put_metric_data, Namespace=NS,
                 MetricData=[one, {"MetricName": "m", "Value": float("nan")}],
                 contains="The value NaN for parameter MetricData.member.2.Value is invalid")
    expect_error("Infinity", "InvalidParameterValue", cw.put_metric_data, Namespace=NS,
                 MetricData=[{"MetricName": "m", "Values": [1.0, float("inf")]}],
                 contains="MetricData.member.1.Values.member.2")
    expect_error("missing MetricName", "MissingParameter", cw_raw.put_metric_data, Namespace=NS,
                 MetricData=[{"Value": 1.0}], contains="MetricData.member.1.MetricName")
    expect_error("StorageResolution 5", "InvalidParameterValue", cw.put_metric_data, Namespace=NS,
                 MetricData=[{**one, "StorageResolution": 5}], contains="MetricData.member.1.StorageResolution")
    expect_error("alarm without threshold", "MissingParameter", cw_raw.put_metric_alarm, AlarmName="x",
                 Namespace=NS, MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1,
                 ComparisonOperator="GreaterThanThreshold", contains="Threshold")
    expect_error("alarm with a bad operator", "InvalidParameterValue", cw.put_metric_alarm, AlarmName="x",
                 Namespace=NS, MetricName="m", Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=1.0,
                 ComparisonOperator="LessThanLowerOrGreaterThanUpperThreshold", contains="ComparisonOperator")
    eq(cw.list_metrics(Namespace="AWS/ECS")["Metrics"], [], "nothing stored by refused requests")


@step
def marker_for_restart():
    cw.put_metric_data(Namespace=NS, MetricData=[{"MetricName": "Survivor", "Value": 42.0, "StorageResolution": 1}])


if ARGS == ["restart"]:
    STEPS.clear()

    @step
    def data_survived_the_restart():
        start = datetime.datetime.fromtimestamp(NOW - 1800, datetime.timezone.utc)
        end = datetime.datetime.fromtimestamp(NOW + 60, datetime.timezone.utc)
        r = cw.get_metric_data(StartTime=start, EndTime=end, MetricDataQueries=[
            {"Id": "s", "MetricStat": {"Metric": {"Namespace": NS, "MetricName": "Survivor"}, "Period": 60, "Stat": "Maximum"}},
            stat_query("p99", "Latency", "p99", period=3600)])
        got = {x["Id"]: x["Values"] for x in r["MetricDataResults"]}
        eq(got["s"], [42.0], "a value from before the restart")
        eq(got["p99"], [99.0], "raw values (percentiles) from before the restart")

main()
