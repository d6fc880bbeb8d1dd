"""Clusters with boto3: the default cluster, create/describe/delete, MISSING failures,
pagination, and tags on a cluster."""

from wg import *  # noqa: F403


@step
def default_cluster_exists():
    r = ecs.list_clusters()
    check(cluster_arn("default") in r["clusterArns"], "list_clusters shows default", r)
    check("nextToken" not in r, "a single page has no nextToken", r)
    r = ecs.describe_clusters()  # no clusters member: the default cluster
    eq([c["clusterArn"] for c in r["clusters"]], [cluster_arn("default")], "describe_clusters()")
    r = ecs.describe_clusters(clusters=["default"])
    c = r["clusters"][0]
    eq(c["clusterName"], "default", "clusterName")
    eq(c["status"], "ACTIVE", "default status")
    for k in ("runningTasksCount", "pendingTasksCount", "activeServicesCount"):
        check(isinstance(c.get(k), int), f"default cluster has integer {k}", c)
    eq(r.get("failures", []), [], "no failures")


@step
def create_describe():
    r = ecs.create_cluster(clusterName="alpha")["cluster"]
    eq(r["clusterArn"], cluster_arn("alpha"), "clusterArn")
    eq(r["clusterName"], "alpha", "clusterName")
    eq(r["status"], "ACTIVE", "status")
    # Idempotent for an existing ACTIVE name.
    again = ecs.create_cluster(clusterName="alpha")["cluster"]
    eq(again["clusterArn"], cluster_arn("alpha"), "second create_cluster: same ARN")
    arns = ecs.list_clusters()["clusterArns"]
    eq(arns.count(cluster_arn("alpha")), 1, "alpha listed once")
    by_arn = ecs.describe_clusters(clusters=[cluster_arn("alpha")])["clusters"]
    eq([c["clusterName"] for c in by_arn], ["alpha"], "describe by ARN")


@step
def describe_missing():
    r = ecs.describe_clusters(clusters=["alpha", "no-such-cluster"])
    eq([c["clusterName"] for c in r["clusters"]], ["alpha"], "found clusters")
    f = r.get("failures", [])
    eq(len(f), 1, "one failure")
    if f:
        eq(f[0].get("reason"), "MISSING", "failure reason")
        check(
            f[0].get("arn", "").endswith("no-such-cluster"),
            "failure arn names the cluster",
            f[0],
        )


@step
def pagination():
    names = [f"page-{i}" for i in range(7)]
    for n in names:
        ecs.create_cluster(clusterName=n)
    want = sorted(cluster_arn(n) for n in names)
    got = paginate(ecs.list_clusters, "clusterArns", maxResults=2)
    mine = [a for a in got if a in want]
    eq(sorted(mine), want, "every page-* cluster listed once (maxResults=2)")
    eq(len(got), len(set(got)), "no cluster listed twice")
    got = []
    for page in ecs.get_paginator("list_clusters").paginate(PaginationConfig={"PageSize": 3}):
        check(len(page["clusterArns"]) <= 3, "page size honoured", page)
        got.extend(page["clusterArns"])
    eq(sorted(a for a in got if a in want), want, "paginator lists every page-* cluster once")
    eq(len(got), len(set(got)), "paginator: no duplicates")
    # --max-items style: stop after 4, resume with the paginator's token.
    it = ecs.get_paginator("list_clusters").paginate(
        PaginationConfig={"PageSize": 3, "MaxItems": 4}
    )
    first = it.build_full_result()
    eq(len(first["clusterArns"]), 4, "MaxItems=4")
    check("NextToken" in first, "MaxItems leaves a NextToken", first)
    rest = (
        ecs.get_paginator("list_clusters")
        .paginate(PaginationConfig={"PageSize": 3, "StartingToken": first.get("NextToken")})
        .build_full_result()
    )
    both = first["clusterArns"] + rest["clusterArns"]
    eq(len(both), len(set(both)), "resumed listing repeats nothing")
    eq(sorted(a for a in both if a in want), want, "resumed listing completes the set")


@step
def bad_list_arguments():
    expect_error("list_clusters(maxResults=0)", "InvalidParameterException",
                 ecs.list_clusters, maxResults=0)
    expect_error("list_clusters(maxResults=101)", "InvalidParameterException",
                 ecs.list_clusters, maxResults=101)
    expect_error("list_clusters(nextToken=garbage)", {"InvalidParameterException", "ClientException"},
                 ecs.list_clusters, nextToken="not-a-token")


@step
def delete():
    r = ecs.delete_cluster(cluster="alpha")["cluster"]
    eq(r["status"], "INACTIVE", "deleted cluster status")
    eq(r["clusterArn"], cluster_arn("alpha"), "deleted cluster ARN")
    check(cluster_arn("alpha") not in ecs.list_clusters()["clusterArns"],
          "a deleted cluster is not listed")
    d = ecs.describe_clusters(clusters=["alpha"])
    inactive = [c for c in d["clusters"] if c["status"] == "INACTIVE"]
    missing = [f for f in d.get("failures", []) if f.get("reason") == "MISSING"]
    check(len(inactive) + len(missing) == 1, "a deleted cluster describes as INACTIVE (or MISSING)", d)
    expect_error("delete_cluster(unknown)", "ClusterNotFoundException",
                 ecs.delete_cluster, cluster="never-was")
    # Re-creating a deleted name gives an ACTIVE cluster again.
    eq(ecs.create_cluster(clusterName="alpha")["cluster"]["status"], "ACTIVE", "re-created alpha")


@step
def tags_on_cluster():
    r = ecs.create_cluster(clusterName="tagged", tags=[{"key": "team", "value": "core"}])
    arn = r["cluster"]["clusterArn"]
    d = ecs.describe_clusters(clusters=["tagged"], include=["TAGS"])["clusters"][0]
    eq(d.get("tags"), [{"key": "team", "value": "core"}], "describe include=TAGS")
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "env", "value": "test"},
                                            {"key": "team", "value": "platform"}])
    tags = sorted((t["key"], t["value"]) for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"])
    eq(tags, [("env", "test"), ("team", "platform")], "tags after tag_resource (replace + add)")
    ecs.untag_resource(resourceArn=arn, tagKeys=["team", "absent"])
    tags = ecs.list_tags_for_resource(resourceArn=arn)["tags"]
    eq(tags, [{"key": "env", "value": "test"}], "tags after untag_resource")
    expect_error(
        "tag_resource(unknown cluster)",
        {"ClusterNotFoundException", "ResourceNotFoundException", "InvalidParameterException"},
        ecs.tag_resource, resourceArn=cluster_arn("ghost"), tags=[{"key": "a", "value": "b"}],
    )
    expect_error(
        "tag_resource(not an ARN)", {"InvalidParameterException", "ClientException"},
        ecs.tag_resource, resourceArn="tagged", tags=[{"key": "a", "value": "b"}],
    )
    # The default cluster can be tagged too.
    ecs.tag_resource(resourceArn=cluster_arn("default"), tags=[{"key": "d", "value": "1"}])
    eq(ecs.list_tags_for_resource(resourceArn=cluster_arn("default"))["tags"],
       [{"key": "d", "value": "1"}], "tags on default")


main()
