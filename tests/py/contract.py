"""API contract gaps real clients hit (issue 9, item 16), with boto3: a deleted cluster
answers ClusterNotFoundException to the operations that act on it; familyPrefix with
maxResults pages through every match; services carry tags (CreateService, TagResource,
DescribeServices include=TAGS) and give them, or their task definition's, and ECS's
managed tags to the tasks they start."""

from wg import *  # noqa: F403

NET = {"awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}}


def service_arn(name, cluster="default"):
    return f"arn:aws:ecs:{REGION}:{ACCOUNT}:service/{cluster}/{name}"


def tag_map(tags):
    return {t["key"]: t["value"] for t in tags or []}


def stable(name):
    ecs.get_waiter("services_stable").wait(services=[name], WaiterConfig=WAIT)


def service_task_tags(name):
    """The tags of the one RUNNING task of service `name`."""
    arns = ecs.list_tasks(serviceName=name)["taskArns"]
    eq(len(arns), 1, f"one RUNNING task of {name}")
    return tag_map(describe_task(arns[0], include=["TAGS"]).get("tags"))


@step
def deleted_cluster_is_not_found():
    register("doomed-td", [container("main", "sleep", ["1"])])
    ecs.create_cluster(clusterName="doomed")
    eq(ecs.delete_cluster(cluster="doomed")["cluster"]["status"], "INACTIVE", "deleted")
    for what, fn, kw in [
        ("list_tasks", ecs.list_tasks, {}),
        ("list_services", ecs.list_services, {}),
        ("run_task", ecs.run_task, {"taskDefinition": "doomed-td", "networkConfiguration": NET}),
        ("create_service", ecs.create_service,
         {"serviceName": "s", "taskDefinition": "doomed-td", "desiredCount": 1}),
        ("update_service", ecs.update_service, {"service": "s", "desiredCount": 1}),
    ]:
        expect_error(f"{what} on a deleted cluster", "ClusterNotFoundException", fn,
                     cluster="doomed", **kw)
    for ref in ("doomed", cluster_arn("doomed")):
        expect_error(f"list_tasks(cluster={ref})", "ClusterNotFoundException", ecs.list_tasks, cluster=ref)
    d = ecs.describe_clusters(clusters=["doomed"])
    eq([c["status"] for c in d["clusters"]], ["INACTIVE"], "DescribeClusters still shows it INACTIVE")
    # Made again, it is usable again.
    ecs.create_cluster(clusterName="doomed")
    eq(ecs.list_tasks(cluster="doomed")["taskArns"], [], "re-created cluster lists")


def pages(fn, key, **kw):
    """Every page of `fn` by hand, as lists."""
    out, token = [], None
    for _ in range(50):
        args = dict(kw)
        if token:
            args["nextToken"] = token
        r = fn(**args)
        out.append(r.get(key, []))
        token = r.get("nextToken")
        if not token:
            return out
    check(False, "pagination did not end")
    return out


@step
def family_prefix_pages_through_every_match():
    # Families around the prefix on both sides, so that a page cut before filtering
    # would come back empty.
    for family in ["aaa-before", "pfx-a", "pfx-b", "pfx-c", "pfx", "pfy-after", "zzz-after"]:
        register(family, [container("main", "sleep", ["1"])])
    register("pfx-b", [container("main", "sleep", ["2"])])
    register("pfx-b", [container("main", "sleep", ["3"])])

    got = pages(ecs.list_task_definition_families, "families", familyPrefix="pfx-", maxResults=1)
    eq(got, [["pfx-a"], ["pfx-b"], ["pfx-c"]], "families familyPrefix=pfx- maxResults=1, page by page")
    got = pages(ecs.list_task_definition_families, "families", familyPrefix="pfx-", maxResults=2)
    eq(got, [["pfx-a", "pfx-b"], ["pfx-c"]], "families maxResults=2")
    got = pages(ecs.list_task_definition_families, "families", familyPrefix="pfx-", status="ACTIVE",
                maxResults=1)
    eq(got, [["pfx-a"], ["pfx-b"], ["pfx-c"]], "families status=ACTIVE maxResults=1")
    it = ecs.get_paginator("list_task_definition_families").paginate(
        familyPrefix="pfx-", PaginationConfig={"PageSize": 1})
    eq([f for p in it for f in p["families"]], ["pfx-a", "pfx-b", "pfx-c"], "botocore paginator")

    # ListTaskDefinitions: familyPrefix is the full family name (as ECS documents it).
    want = [[taskdef_arn("pfx-b", r)] for r in (1, 2, 3)]
    got = pages(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="pfx-b", maxResults=1)
    eq(got, want, "task definitions familyPrefix=pfx-b maxResults=1, page by page")
    got = pages(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="pfx-b", sort="DESC",
                maxResults=1)
    eq(got, want[::-1], "sort=DESC maxResults=1")
    got = pages(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="pfx", maxResults=1)
    eq(got, [[taskdef_arn("pfx", 1)]], "the family pfx only, not pfx-*")


@step
def services_carry_tags():
    register("tagged", [container("main", "sleep", ["600000"], stopTimeout=2)],
             tags=[{"key": "team", "value": "from-td"}])
    # No task yet: the first one starts after the tags below are changed.
    svc = ecs.create_service(
        serviceName="tagged", taskDefinition="tagged", desiredCount=0, networkConfiguration=NET,
        tags=[{"key": "team", "value": "from-svc"}, {"key": "env", "value": "test"}],
        propagateTags="SERVICE", enableECSManagedTags=True,
    )["service"]
    eq(svc["propagateTags"], "SERVICE", "propagateTags in CreateService's answer")
    eq(svc["enableECSManagedTags"], True, "enableECSManagedTags in CreateService's answer")
    arn = svc["serviceArn"]
    eq(arn, service_arn("tagged"), "serviceArn")

    d = ecs.describe_services(services=["tagged"], include=["TAGS"])["services"][0]
    eq(tag_map(d.get("tags")), {"team": "from-svc", "env": "test"}, "DescribeServices include=TAGS")
    eq(tag_map(ecs.list_tags_for_resource(resourceArn=arn)["tags"]), {"team": "from-svc", "env": "test"},
       "ListTagsForResource on the service")
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "owner", "value": "me"}])
    ecs.untag_resource(resourceArn=arn, tagKeys=["env"])
    eq(tag_map(ecs.list_tags_for_resource(resourceArn=arn)["tags"]), {"team": "from-svc", "owner": "me"},
       "after TagResource and UntagResource")

    ecs.update_service(service="tagged", desiredCount=1)
    stable("tagged")
    eq(service_task_tags("tagged"),
       {"team": "from-svc", "owner": "me", "aws:ecs:clusterName": "default", "aws:ecs:serviceName": "tagged"},
       "a task of propagateTags=SERVICE, enableECSManagedTags")

    # From the task definition instead, for the tasks started from now on.
    svc = ecs.update_service(service="tagged", propagateTags="TASK_DEFINITION", forceNewDeployment=True)["service"]
    eq(svc["propagateTags"], "TASK_DEFINITION", "propagateTags after UpdateService")
    stable("tagged")
    eq(service_task_tags("tagged"),
       {"team": "from-td", "aws:ecs:clusterName": "default", "aws:ecs:serviceName": "tagged"},
       "a task of propagateTags=TASK_DEFINITION")

    ecs.delete_service(service="tagged", force=True)
    ecs.get_waiter("services_inactive").wait(services=["tagged"], WaiterConfig=WAIT)
    expect_error("tag an INACTIVE service", "ResourceNotFoundException", ecs.tag_resource,
                 resourceArn=arn, tags=[{"key": "a", "value": "b"}])
    expect_error("tag an unknown service", "ResourceNotFoundException", ecs.list_tags_for_resource,
                 resourceArn=service_arn("ghost"))


@step
def untagged_services_give_no_tags():
    register("plain", [container("main", "sleep", ["600000"], stopTimeout=2)],
             tags=[{"key": "team", "value": "from-td"}])
    svc = ecs.create_service(serviceName="plain", taskDefinition="plain", desiredCount=1,
                             networkConfiguration=NET)["service"]
    eq(svc["propagateTags"], "NONE", "propagateTags default")
    eq(svc["enableECSManagedTags"], False, "enableECSManagedTags default")
    stable("plain")
    eq(service_task_tags("plain"), {}, "a task of a service that propagates nothing")
    expect_error("bad propagateTags", "InvalidParameterException", ecs.create_service,
                 serviceName="bad", taskDefinition="plain", desiredCount=0, propagateTags="EVERYTHING",
                 contains="propagateTags")
    # A service made again under a deleted one's name starts without its tags.
    ecs.tag_resource(resourceArn=svc["serviceArn"], tags=[{"key": "old", "value": "yes"}])
    ecs.delete_service(service="plain", force=True)
    ecs.get_waiter("services_inactive").wait(services=["plain"], WaiterConfig=WAIT)
    ecs.create_service(serviceName="plain", taskDefinition="plain", desiredCount=0)
    eq(ecs.list_tags_for_resource(resourceArn=svc["serviceArn"])["tags"], [], "re-created service's tags")
    ecs.delete_service(service="plain")


main()
