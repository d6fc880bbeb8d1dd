"""A host with its own access keys, region and account id (from its --config file):
requests must be signed with a configured key for the configured region, and ARNs carry
the configured region and account.

Usage: keys.py <port> <access-key-id> <secret> <region> <account-id>
"""

from wg import *  # noqa: F403

KEY, SECRET, REGION2, ACCOUNT2 = ARGS[:4]


def mk(service, key=KEY, secret=SECRET, region=REGION2):
    session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret, region_name=region)
    return session.client(service, endpoint_url=ENDPOINT, config=config())


@step
def configured_key_region_and_account():
    c = mk("ecs")
    eq(c.list_clusters()["clusterArns"], [f"arn:aws:ecs:{REGION2}:{ACCOUNT2}:cluster/default"],
       "default cluster ARN with the configured region and account")
    td = c.register_task_definition(**taskdef("k", [container("main", "echo")]))["taskDefinition"]
    eq(td["taskDefinitionArn"], f"arn:aws:ecs:{REGION2}:{ACCOUNT2}:task-definition/k:1", "task definition ARN")
    t = c.run_task(taskDefinition="k")["tasks"][0]
    check(t["taskArn"].startswith(f"arn:aws:ecs:{REGION2}:{ACCOUNT2}:task/default/"), "task ARN", t["taskArn"])
    c.get_waiter("tasks_stopped").wait(tasks=[t["taskArn"]], WaiterConfig=WAIT)
    groups = mk("logs").describe_log_groups()["logGroups"]
    eq(groups, [], "the logs client works with the configured key")


@step
def other_keys_are_refused():
    expect_error("the default test/test key when keys are configured", "UnrecognizedClientException",
                 mk("ecs", key="test", secret="test").list_clusters, status={400, 403})
    expect_error("a configured key with the wrong secret", "InvalidSignatureException",
                 mk("ecs", secret=SECRET + "x").list_clusters, status={400, 403})
    got = error_of(mk("ecs", region="us-east-1" if REGION2 != "us-east-1" else "eu-west-1").list_clusters)
    check(got and got[2] in (400, 403) and got[0] in ("InvalidSignatureException", "SignatureDoesNotMatch",
                                                      "IncompleteSignatureException", "UnrecognizedClientException"),
          "a request signed for another region is refused", got)


main()
