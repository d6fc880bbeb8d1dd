"""ContainerInsights StorageWriteBytes (issue 14): a task whose `writer` container writes
3 MiB to its root (`files fill /blob 3`) beside a `sleeper` that keeps the task running
shows at least those bytes in `ECS/ContainerInsights` StorageWriteBytes, summed over the
last minutes with boto3 GetMetricData (rpc-v2-cbor), at task, family and cluster level.
Then the task is stopped (the Rust side checks its usage record).

Prints `TASK=<id>` for the Rust side."""

from wg import *  # noqa: F403

cw = client("cloudwatch")
START = time.time()
MIB = 1 << 20
WRITTEN = 3 * MIB


def write_sum(dims):
    """StorageWriteBytes' Sum over everything since the script began."""
    r = cw.get_metric_data(
        MetricDataQueries=[{
            "Id": "w",
            "MetricStat": {
                "Metric": {
                    "Namespace": "ECS/ContainerInsights",
                    "MetricName": "StorageWriteBytes",
                    "Dimensions": [{"Name": k, "Value": v} for k, v in dims],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        }],
        StartTime=datetime.datetime.fromtimestamp(START - 120, datetime.timezone.utc),
        EndTime=datetime.datetime.fromtimestamp(time.time() + 60, datetime.timezone.utc),
    )
    return sum(r["MetricDataResults"][0]["Values"])


@step
def a_task_writing_3_mib_shows_them_in_storage_write_bytes():
    register(
        "writer",
        [
            container("sleeper", "sleep", command=["120000"], stopTimeout=2),
            container("writer", "files", command=["fill", "/blob", "3"], essential=False),
        ],
    )
    arn = run_task("writer")[0]["taskArn"]
    tid = task_id(arn)
    print(f"TASK={tid}", flush=True)
    levels = {
        "task": [("ClusterName", "default"), ("TaskDefinitionFamily", "writer"), ("TaskId", tid)],
        "family": [("ClusterName", "default"), ("TaskDefinitionFamily", "writer")],
        "cluster": [("ClusterName", "default")],
    }
    seen = {}

    def all_levels():
        for level, dims in levels.items():
            seen[level] = write_sum(dims)
        return all(v >= WRITTEN for v in seen.values())

    try:
        wait_until(all_levels, f"StorageWriteBytes >= {WRITTEN} at every level",
                   timeout=60, interval=1)
    finally:
        print(f"StorageWriteBytes sums: {seen}")
    for level, total in seen.items():
        check(total >= WRITTEN, f"{level}-level StorageWriteBytes {total} >= {WRITTEN}")
    listed = cw.list_metrics(Namespace="ECS/ContainerInsights", MetricName="StorageReadBytes",
                             Dimensions=[{"Name": "TaskId", "Value": tid}])["Metrics"]
    check(len(listed) == 1, "StorageReadBytes published for the task too", listed)
    ecs.stop_task(task=arn, reason="done")
    wait_tasks("stopped", [arn])


if __name__ == "__main__":
    main()
