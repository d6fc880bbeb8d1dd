"""Task definitions with boto3: revisions, describe by family / family:revision / ARN,
deregistration, listing with filters and pagination, tags, validation errors."""

from wg import *  # noqa: F403

ECHO = [container("main", "echo", ["hello"])]


@step
def register_revisions():
    td = register("web", ECHO)
    eq(td["family"], "web", "family")
    eq(td["revision"], 1, "first revision")
    eq(td["taskDefinitionArn"], taskdef_arn("web", 1), "taskDefinitionArn")
    eq(td["status"], "ACTIVE", "status")
    eq(td["cpu"], "256", "cpu is the string '256'")
    eq(td["memory"], "512", "memory is the string '512'")
    check("FARGATE" in td.get("requiresCompatibilities", []), "requiresCompatibilities", td)
    check("FARGATE" in td.get("compatibilities", []), "compatibilities include FARGATE", td)
    eq(td.get("networkMode"), "awsvpc", "networkMode")
    check(is_epoch_seconds(td.get("registeredAt")), "registeredAt is a recent timestamp", td.get("registeredAt"))
    c = td["containerDefinitions"][0]
    eq((c["name"], c["image"], c.get("command")), ("main", guest("echo"), ["hello"]), "container")
    eq(c.get("essential"), True, "essential")
    td2 = register("web", ECHO)
    eq(td2["revision"], 2, "second revision")
    eq(td2["taskDefinitionArn"], taskdef_arn("web", 2), "second ARN")


@step
def wire_types():
    """What the server puts on the wire, not what botocore makes of it."""
    r = raw_call("ecs", "DescribeTaskDefinition", {"taskDefinition": "web:1"})
    eq(r.status, 200, "raw DescribeTaskDefinition status")
    eq(r.headers.get("content-type"), "application/x-amz-json-1.1", "content type")
    check(r.headers.get("x-amzn-requestid"), "x-amzn-RequestId header", r.headers)
    td = (r.json or {}).get("taskDefinition", {})
    check(isinstance(td.get("cpu"), str) and isinstance(td.get("memory"), str),
          "cpu/memory are JSON strings", td)
    check(isinstance(td.get("registeredAt"), (int, float)) and not isinstance(td.get("registeredAt"), bool),
          "registeredAt is a JSON number (epoch seconds)", td.get("registeredAt"))
    if isinstance(td.get("registeredAt"), (int, float)):
        check(abs(td["registeredAt"] - time.time()) < 3600, "registeredAt is in seconds, not ms", td["registeredAt"])
    check(isinstance(td.get("revision"), int), "revision is an integer", td.get("revision"))
    check(all(v is not None for v in td.values()), "no null members", td)


@step
def describe_forms():
    eq(ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"], 2,
       "describe by family: latest")
    eq(ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]["revision"], 1,
       "describe family:revision")
    eq(ecs.describe_task_definition(taskDefinition=taskdef_arn("web", 1))["taskDefinition"]["revision"], 1,
       "describe by ARN")


@step
def deregister():
    td = ecs.deregister_task_definition(taskDefinition="web:1")["taskDefinition"]
    eq(td["status"], "INACTIVE", "deregistered status")
    eq(td["revision"], 1, "deregistered revision")
    check(is_epoch_seconds(td.get("deregisteredAt")), "deregisteredAt set", td.get("deregisteredAt"))
    d = ecs.describe_task_definition(taskDefinition="web:1")["taskDefinition"]
    eq(d["status"], "INACTIVE", "an INACTIVE revision is still describable")
    eq(ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"], 2,
       "family still resolves to the latest ACTIVE")
    eq(register("web", ECHO)["revision"], 3, "revisions keep increasing")
    ecs.deregister_task_definition(taskDefinition=taskdef_arn("web", 3))
    eq(ecs.describe_task_definition(taskDefinition="web")["taskDefinition"]["revision"], 2,
       "latest ACTIVE after deregistering the newest")
    eq(register("web", ECHO)["revision"], 4, "no revision is reused after deregistration")
    expect_error("deregister unknown revision", {"ClientException", "InvalidParameterException"},
                 ecs.deregister_task_definition, taskDefinition="web:99")
    expect_error("deregister without a revision", {"ClientException", "InvalidParameterException"},
                 ecs.deregister_task_definition, taskDefinition="web")


@step
def listing():
    r = ecs.list_task_definitions(familyPrefix="web")
    eq(r["taskDefinitionArns"], [taskdef_arn("web", 2), taskdef_arn("web", 4)],
       "ACTIVE by default, ascending")
    r = ecs.list_task_definitions(familyPrefix="web", status="INACTIVE")
    eq(r["taskDefinitionArns"], [taskdef_arn("web", 1), taskdef_arn("web", 3)], "status=INACTIVE")
    r = ecs.list_task_definitions(familyPrefix="web", sort="DESC")
    eq(r["taskDefinitionArns"], [taskdef_arn("web", 4), taskdef_arn("web", 2)], "sort=DESC")
    fams = ecs.list_task_definition_families()["families"]
    check("web" in fams, "families include web", fams)
    eq(ecs.list_task_definition_families(familyPrefix="we")["families"], ["web"], "familyPrefix")
    register("gone", ECHO)
    register("gone", ECHO)
    ecs.deregister_task_definition(taskDefinition="gone:1")
    ecs.deregister_task_definition(taskDefinition="gone:2")
    fam = lambda st: ecs.list_task_definition_families(familyPrefix="gone", status=st)["families"]  # noqa: E731
    eq(fam("ACTIVE"), [], "a family without ACTIVE revisions is not ACTIVE")
    eq(fam("INACTIVE"), ["gone"], "it is INACTIVE")
    eq(fam("ALL"), ["gone"], "and listed with ALL")
    eq(ecs.list_task_definition_families(familyPrefix="gone")["families"], ["gone"], "default: ACTIVE and INACTIVE")
    expect_error("describe a family with no ACTIVE revision", "ClientException",
                 ecs.describe_task_definition, taskDefinition="gone")
    eq(ecs.describe_task_definition(taskDefinition="gone:2")["taskDefinition"]["status"], "INACTIVE",
       "its revisions stay describable")


@step
def pagination():
    for _ in range(7):
        register("pg", ECHO)
    for f in ("fam-a", "fam-b", "fam-c", "fam-d", "fam-e"):
        register(f, ECHO)
    want = [taskdef_arn("pg", i) for i in range(1, 8)]
    got = paginate(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="pg", maxResults=2)
    eq(got, want, "list_task_definitions maxResults=2 by hand")
    got = []
    for page in ecs.get_paginator("list_task_definitions").paginate(
        familyPrefix="pg", PaginationConfig={"PageSize": 3}
    ):
        got.extend(page["taskDefinitionArns"])
    eq(got, want, "list_task_definitions paginator PageSize=3")
    got = ecs.get_paginator("list_task_definition_families").paginate(
        familyPrefix="fam-", PaginationConfig={"PageSize": 2}
    ).build_full_result()["families"]
    eq(got, ["fam-a", "fam-b", "fam-c", "fam-d", "fam-e"], "families paginator PageSize=2")
    got = paginate(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="pg", sort="DESC", maxResults=2)
    eq(got, want[::-1], "sort=DESC, maxResults=2 by hand")
    got = paginate(ecs.list_task_definitions, "taskDefinitionArns", familyPrefix="pg", status="ACTIVE",
                   maxResults=3)
    eq(got, want, "status=ACTIVE, maxResults=3 by hand")
    # Everything, small pages, no duplicates.
    every = paginate(ecs.list_task_definitions, "taskDefinitionArns", maxResults=1)
    eq(len(every), len(set(every)), "no ARN listed twice over all pages")
    check(set(want) <= set(every), "all pg revisions in the full listing", every)
    expect_error("list_task_definitions(maxResults=0)", "InvalidParameterException",
                 ecs.list_task_definitions, maxResults=0)
    expect_error("list_task_definition_families(maxResults=1000)", "InvalidParameterException",
                 ecs.list_task_definition_families, maxResults=1000)


@step
def tags_on_task_definition():
    r = ecs.register_task_definition(**taskdef("tagged", ECHO), tags=[{"key": "owner", "value": "qa"}])
    arn = r["taskDefinition"]["taskDefinitionArn"]
    eq(r.get("tags"), [{"key": "owner", "value": "qa"}], "register returns tags")
    d = ecs.describe_task_definition(taskDefinition="tagged", include=["TAGS"])
    eq(d.get("tags"), [{"key": "owner", "value": "qa"}], "describe include=TAGS")
    ecs.tag_resource(resourceArn=arn, tags=[{"key": "stage", "value": "beta"}])
    got = sorted((t["key"], t["value"]) for t in ecs.list_tags_for_resource(resourceArn=arn)["tags"])
    eq(got, [("owner", "qa"), ("stage", "beta")], "tags after tag_resource")
    ecs.untag_resource(resourceArn=arn, tagKeys=["owner"])
    eq(ecs.list_tags_for_resource(resourceArn=arn)["tags"], [{"key": "stage", "value": "beta"}],
       "tags after untag_resource")
    expect_error(
        "tag_resource(unknown task definition)",
        {"ResourceNotFoundException", "ClientException", "InvalidParameterException"},
        ecs.tag_resource, resourceArn=taskdef_arn("ghost", 1), tags=[{"key": "a", "value": "b"}],
    )


@step
def unknown_definitions():
    for ref in ("nope", "nope:1", taskdef_arn("nope", 1), "web:999"):
        expect_error(f"describe_task_definition({ref})", "ClientException",
                     ecs.describe_task_definition, taskDefinition=ref)


@step
def validation():
    expect_error("cpu 1024 / memory 1024", "ClientException",
                 ecs.register_task_definition, **taskdef("bad", ECHO, cpu="1024", memory="1024"),
                 contains="No Fargate configuration exists")
    expect_error("container without image", "ClientException",
                 ecs.register_task_definition, **taskdef("bad", [{"name": "main"}]))
    expect_error("11 containers", {"ClientException", "InvalidParameterException"},
                 ecs.register_task_definition,
                 **taskdef("bad", [container(f"c{i}", "echo") for i in range(11)],
                           cpu="4096", memory="8192"))
    expect_error("bad family name", {"ClientException", "InvalidParameterException"},
                 ecs.register_task_definition, **taskdef("bad name!", ECHO))
    expect_error("no containers", {"ClientException", "InvalidParameterException"},
                 ecs.register_task_definition, **taskdef("bad", []))
    eq(ecs.list_task_definitions(familyPrefix="bad")["taskDefinitionArns"], [],
       "rejected registrations leave nothing behind")
    td = register("sizes", ECHO, cpu="1 vCPU", memory="2 GB")
    eq((td["cpu"], td["memory"]), ("1024", "2048"), "'1 vCPU' / '2 GB' normalised")


main()
