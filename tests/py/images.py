"""A registry image through the API (issue 6): RegisterTaskDefinition with an OCI reference,
RunTask, and DescribeTasks shows the digest that ran and the pull times.

Arguments: <port> <image reference> <expected manifest digest>
"""

from wg import *  # noqa: F403

IMAGE = sys.argv[2]
DIGEST = sys.argv[3]


@step
def run_registry_image():
    register("from-registry", [{"name": "main", "image": IMAGE, "command": ["hi"]}])
    tasks = run_task("from-registry")
    arn = tasks[0]["taskArn"]
    wait_tasks("stopped", [arn])
    t = describe_task(arn)
    c = t["containers"][0]
    eq(c.get("imageDigest"), DIGEST, "imageDigest is the pulled manifest digest")
    eq(c.get("exitCode"), 0, "the container ran")
    check(is_epoch_seconds_dt(t.get("pullStartedAt")), "pullStartedAt is set", t)
    check(is_epoch_seconds_dt(t.get("pullStoppedAt")), "pullStoppedAt is set", t)
    check(t["pullStartedAt"] <= t["pullStoppedAt"], "pull started before it stopped", t)


def is_epoch_seconds_dt(v):
    # boto3 parses timestamps into datetimes.
    return isinstance(v, datetime.datetime)


main()
