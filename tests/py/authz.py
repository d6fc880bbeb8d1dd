"""IAM on every API call, STS sessions, with boto3 (issue 12).

The root key (test/test) creates a user, an access key and policies; the user's calls are
then allowed or denied as the policies say, with AWS's error shapes and messages, and a
denied call changes nothing. A role is assumed and acted as; SimulatePrincipalPolicy agrees
with what the API did.

Args: a phase, `main` (everything) or `after-restart <key> <secret> <token>` (a session
kept across a restart of the host is still accepted) or `expired <key> <secret> <token>`
(a session past its end is refused as expired) or `deleted <key> <secret> <token>` (a
session whose record is gone is refused).
"""

from wg import *  # noqa: F403

iam = client("iam")
sts = client("sts")

A, B = "team-a", "team-b"
S = {}


def as_(service, key, secret, token=None, validate=True):
    session = boto3.session.Session(
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        aws_session_token=token,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=ENDPOINT, config=config(parameter_validation=validate))


def alice(service):
    return as_(service, S["key"], S["secret"])


def policy(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def denied_message(who, action, resource, explicit=False):
    why = (
        "with an explicit deny in an identity-based policy"
        if explicit
        else f"because no identity-based policy allows the {action} action"
    )
    return f"User: {who} is not authorized to perform: {action} on resource: {resource} {why}"


def expect_denied(what, fn, who, action, resource, explicit=False, **kw):
    """A JSON service's AccessDeniedException with AWS's exact message."""
    got = expect_error(what, "AccessDeniedException", fn, status=400, **kw)
    if got:
        eq(got[1], denied_message(who, action, resource, explicit), f"{what}: message")


def all_tasks(c, cluster):
    """The cluster's task ARNs, running or stopped (an echo task stops at once, so it may
    move from the first list to the second between the two calls: a set)."""
    return sorted(
        {
            arn
            for status in ("RUNNING", "STOPPED")
            for arn in c.list_tasks(cluster=cluster, desiredStatus=status)["taskArns"]
        }
    )


def network():
    return {"awsvpcConfiguration": {"subnets": ["subnet-12345678"], "assignPublicIp": "DISABLED"}}


ALICE = f"arn:aws:iam::{ACCOUNT}:user/alice"

WEB1 = taskdef_arn("web", 1)


def main_phase():
    @step
    def setup_clusters_and_definition():
        for c in (A, B):
            ecs.create_cluster(clusterName=c)
        register("web", [container("main", "echo", ["hi"])])

    @step
    def root_identity():
        me = sts.get_caller_identity()
        eq(me["Account"], ACCOUNT, "root Account")
        eq(me["UserId"], ACCOUNT, "root UserId is the account")
        eq(me["Arn"], f"arn:aws:iam::{ACCOUNT}:user/test", "root Arn (the host key's principal)")

    @step
    def user_with_a_key_starts_with_no_permissions():
        user = iam.create_user(UserName="alice")["User"]
        S["user_id"] = user["UserId"]
        key = iam.create_access_key(UserName="alice")["AccessKey"]
        S["key"], S["secret"] = key["AccessKeyId"], key["SecretAccessKey"]
        check(S["key"].startswith("AKIA"), "user key id is AKIA…", S["key"])
        me = alice("sts").get_caller_identity()
        eq(me["Arn"], ALICE, "alice's Arn")
        eq(me["UserId"], S["user_id"], "alice's UserId is her user id")
        eq(me["Account"], ACCOUNT, "alice's Account")
        expect_denied(
            "a new user may not list clusters",
            alice("ecs").list_clusters,
            ALICE,
            "ecs:ListClusters",
            "*",
        )

    @step
    def run_task_only_in_cluster_a():
        iam.put_user_policy(
            UserName="alice",
            PolicyName="run-in-a",
            PolicyDocument=policy(
                {
                    "Effect": "Allow",
                    "Action": ["ecs:RunTask", "ecs:DescribeTasks"],
                    "Resource": "*",
                    "Condition": {"ArnEquals": {"ecs:cluster": cluster_arn(A)}},
                }
            ),
        )
        a_ecs = alice("ecs")
        r = a_ecs.run_task(taskDefinition="web:1", cluster=A, networkConfiguration=network())
        eq(len(r["tasks"]), 1, "alice runs a task in A")
        S["task_a"] = r["tasks"][0]["taskArn"]
        d = a_ecs.describe_tasks(cluster=A, tasks=[S["task_a"]])
        eq([t["taskArn"] for t in d["tasks"]], [S["task_a"]], "alice describes her task in A")

        expect_denied(
            "RunTask in B",
            a_ecs.run_task,
            ALICE,
            "ecs:RunTask",
            WEB1,
            taskDefinition="web:1",
            cluster=B,
            networkConfiguration=network(),
        )
        eq(all_tasks(ecs, B), [], "nothing was started in B")
        expect_denied(
            "DeleteCluster A",
            a_ecs.delete_cluster,
            ALICE,
            "ecs:DeleteCluster",
            cluster_arn(A),
            cluster=A,
        )
        eq(ecs.describe_clusters(clusters=[A])["clusters"][0]["status"], "ACTIVE", "A is still there")

    @step
    def simulate_agrees_with_the_api():
        def decide(action, resource, cluster=None):
            ctx = []
            if cluster:
                ctx = [{"ContextKeyName": "ecs:cluster", "ContextKeyValues": [cluster_arn(cluster)], "ContextKeyType": "string"}]
            r = iam.simulate_principal_policy(
                PolicySourceArn=ALICE, ActionNames=[action], ResourceArns=[resource], ContextEntries=ctx
            )
            return r["EvaluationResults"][0]["EvalDecision"]

        eq(decide("ecs:RunTask", WEB1, A), "allowed", "simulate RunTask in A")
        eq(decide("ecs:RunTask", WEB1, B), "implicitDeny", "simulate RunTask in B")
        eq(decide("ecs:DeleteCluster", cluster_arn(A)), "implicitDeny", "simulate DeleteCluster")

    @step
    def managed_policy_attached_takes_effect():
        arn = iam.create_policy(
            PolicyName="logs-read",
            PolicyDocument=policy({"Effect": "Allow", "Action": "logs:DescribeLogGroups", "Resource": "*"}),
        )["Policy"]["Arn"]
        S["logs_policy"] = arn
        a_logs = alice("logs")
        expect_error("DescribeLogGroups before attaching", "AccessDeniedException", a_logs.describe_log_groups)
        iam.attach_user_policy(UserName="alice", PolicyArn=arn)
        a_logs.describe_log_groups()
        expect_error(
            "CreateLogGroup is not DescribeLogGroups",
            "AccessDeniedException",
            a_logs.create_log_group,
            contains=f"User: {ALICE} is not authorized to perform: logs:CreateLogGroup on resource: "
            f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/denied",
            logGroupName="/denied",
        )
        names = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
        check("/denied" not in names, "the denied log group was not created", names)
        iam.detach_user_policy(UserName="alice", PolicyArn=arn)
        expect_error("DescribeLogGroups after detaching", "AccessDeniedException", a_logs.describe_log_groups)

    @step
    def group_policy_takes_effect():
        iam.create_group(GroupName="viewers")
        iam.put_group_policy(
            GroupName="viewers",
            PolicyName="list",
            PolicyDocument=policy({"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}),
        )
        a_ecs = alice("ecs")
        expect_error("ListClusters before joining", "AccessDeniedException", a_ecs.list_clusters)
        iam.add_user_to_group(GroupName="viewers", UserName="alice")
        check(cluster_arn(A) in a_ecs.list_clusters()["clusterArns"], "alice lists clusters as a viewer")
        iam.remove_user_from_group(GroupName="viewers", UserName="alice")
        expect_error("ListClusters after leaving", "AccessDeniedException", a_ecs.list_clusters)

    @step
    def an_explicit_deny_beats_an_allow():
        iam.put_user_policy(
            UserName="alice",
            PolicyName="describe-all",
            PolicyDocument=policy({"Effect": "Allow", "Action": "ecs:DescribeClusters", "Resource": "*"}),
        )
        iam.put_user_policy(
            UserName="alice",
            PolicyName="but-not-b",
            PolicyDocument=policy({"Effect": "Deny", "Action": "ecs:Describe*", "Resource": cluster_arn(B)}),
        )
        a_ecs = alice("ecs")
        eq(a_ecs.describe_clusters(clusters=[A])["clusters"][0]["clusterName"], A, "A is described")
        expect_denied(
            "DescribeClusters B",
            a_ecs.describe_clusters,
            ALICE,
            "ecs:DescribeClusters",
            cluster_arn(B),
            explicit=True,
            clusters=[B],
        )
        r = iam.simulate_principal_policy(
            PolicySourceArn=ALICE, ActionNames=["ecs:DescribeClusters"], ResourceArns=[cluster_arn(B)]
        )
        eq(r["EvaluationResults"][0]["EvalDecision"], "explicitDeny", "simulate agrees: explicit deny")

    @step
    def assume_a_role_and_act_with_its_permissions():
        trust = policy(
            {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sts:AssumeRole"}
        )
        role = iam.create_role(RoleName="deployer", AssumeRolePolicyDocument=trust)["Role"]
        S["role_arn"], S["role_id"] = role["Arn"], role["RoleId"]
        iam.put_role_policy(
            RoleName="deployer",
            PolicyName="run-anywhere",
            PolicyDocument=policy(
                {"Effect": "Allow", "Action": ["ecs:RunTask", "ecs:ListTasks"], "Resource": "*"}
            ),
        )
        a_sts = alice("sts")
        # AWS, one account: a trust policy naming the account needs the caller's identity
        # policy too; one naming the caller's ARN (deployer's) is enough on its own.
        by_account = iam.create_role(
            RoleName="account-trusted",
            AssumeRolePolicyDocument=policy(
                {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"}
            ),
        )["Role"]["Arn"]
        expect_error(
            "AssumeRole of a role trusting the account, without sts:AssumeRole in alice's policies",
            "AccessDenied",
            a_sts.assume_role,
            status=403,
            RoleArn=by_account,
            RoleSessionName="alice-deploy",
        )
        iam.put_user_policy(
            UserName="alice",
            PolicyName="assume-account-trusted",
            PolicyDocument=policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": by_account}),
        )
        r = a_sts.assume_role(RoleArn=by_account, RoleSessionName="alice-deploy")
        check(r["Credentials"]["AccessKeyId"].startswith("ASIA"), "with the identity policy", r["Credentials"])
        t0 = time.time()
        r = a_sts.assume_role(RoleArn=S["role_arn"], RoleSessionName="alice-deploy", DurationSeconds=900)
        c = r["Credentials"]
        check(c["AccessKeyId"].startswith("ASIA") and len(c["AccessKeyId"]) == 20, "session key ASIA…", c["AccessKeyId"])
        check(len(c["SessionToken"]) > 20, "a session token", c["SessionToken"])
        left = c["Expiration"].timestamp() - t0
        check(890 <= left <= 910, "Expiration is DurationSeconds from now", left)
        session_arn = f"arn:aws:sts::{ACCOUNT}:assumed-role/deployer/alice-deploy"
        eq(r["AssumedRoleUser"]["Arn"], session_arn, "AssumedRoleUser.Arn")
        eq(r["AssumedRoleUser"]["AssumedRoleId"], f"{S['role_id']}:alice-deploy", "AssumedRoleId")
        S["session"] = (c["AccessKeyId"], c["SecretAccessKey"], c["SessionToken"])

        me = as_("sts", *S["session"]).get_caller_identity()
        eq(me["Arn"], session_arn, "the session's Arn")
        eq(me["UserId"], f"{S['role_id']}:alice-deploy", "the session's UserId")
        r_ecs = as_("ecs", *S["session"])
        r = r_ecs.run_task(taskDefinition="web:1", cluster=B, networkConfiguration=network())
        eq(len(r["tasks"]), 1, "the role runs a task in B")
        eq(all_tasks(r_ecs, B), [r["tasks"][0]["taskArn"]], "the role lists B's task")
        expect_denied(
            "the role may not DeleteCluster",
            r_ecs.delete_cluster,
            session_arn,
            "ecs:DeleteCluster",
            cluster_arn(B),
            cluster=B,
        )
        print("SESSION " + " ".join(S["session"]), flush=True)

    @step
    def tampered_or_missing_session_tokens_are_refused():
        key, secret, token = S["session"]
        tampered = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
        for what, t in (("tampered token", tampered), ("no token", None)):
            expect_error(
                f"STS with a {what}",
                "InvalidClientTokenId",
                as_("sts", key, secret, t).get_caller_identity,
                status=403,
                contains="The security token included in the request is invalid",
            )
        expect_error(
            "a wrong secret",
            "InvalidSignatureException",
            as_("ecs", key, "x" * 40, token).list_tasks,
        )

    @step
    def assume_role_refusals():
        iam.create_user(UserName="bob")
        k = iam.create_access_key(UserName="bob")["AccessKey"]
        iam.put_user_policy(
            UserName="bob",
            PolicyName="assume-any",
            PolicyDocument=policy({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}),
        )
        b_sts = as_("sts", k["AccessKeyId"], k["SecretAccessKey"])
        bob = f"arn:aws:iam::{ACCOUNT}:user/bob"
        for role in ("deployer", "no-such-role"):
            arn = f"arn:aws:iam::{ACCOUNT}:role/{role}"
            got = expect_error(f"bob assumes {role}", "AccessDenied", b_sts.assume_role, status=403, RoleArn=arn, RoleSessionName="bob")
            if got:
                eq(
                    got[1],
                    f"User: {bob} is not authorized to perform: sts:AssumeRole on resource: {arn}",
                    f"bob assumes {role}: message",
                )
        expect_error(
            "a malformed RoleArn",
            "ValidationError",
            b_sts.assume_role,
            RoleArn="arn:aws:iam::000000000000:user/bob",
            RoleSessionName="bob",
            contains="RoleArn",
        )
        expect_error(
            "longer than the role's MaxSessionDuration",
            "ValidationError",
            alice("sts").assume_role,
            RoleArn=S["role_arn"],
            RoleSessionName="long",
            DurationSeconds=7200,
            contains="The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
        )

    @step
    def inactive_and_deleted_keys_are_refused():
        iam.update_access_key(UserName="alice", AccessKeyId=S["key"], Status="Inactive")
        expect_error(
            "an inactive key (STS)",
            "InvalidClientTokenId",
            alice("sts").get_caller_identity,
            status=403,
        )
        expect_error(
            "an inactive key (ECS)",
            "InvalidClientTokenId",
            alice("ecs").describe_tasks,
            status=403,
            cluster=A,
            tasks=[S["task_a"]],
        )
        iam.update_access_key(UserName="alice", AccessKeyId=S["key"], Status="Active")
        alice("sts").get_caller_identity()
        iam.delete_access_key(UserName="alice", AccessKeyId=S["key"])
        expect_error(
            "a deleted key (STS)",
            "InvalidClientTokenId",
            alice("sts").get_caller_identity,
            status=403,
        )
        expect_error(
            "a deleted key (ECS)",
            "UnrecognizedClientException",
            alice("ecs").list_clusters,
        )


def after_restart_phase(key, secret, token):
    @step
    def session_survives_a_restart():
        me = as_("sts", key, secret, token).get_caller_identity()
        check(me["Arn"].endswith(":assumed-role/deployer/alice-deploy"), "the session still works", me)


def expired_phase(key, secret, token):
    @step
    def expired_session_is_refused_and_changes_nothing():
        expect_error(
            "an expired session (STS)",
            "ExpiredToken",
            as_("sts", key, secret, token).get_caller_identity,
            status=403,
            contains="The security token included in the request is expired",
        )
        before = all_tasks(ecs, B)
        expect_error(
            "an expired session (ECS RunTask)",
            "ExpiredTokenException",
            as_("ecs", key, secret, token).run_task,
            taskDefinition="web:1",
            cluster=B,
            networkConfiguration=network(),
        )
        eq(all_tasks(ecs, B), before, "the refused RunTask started nothing")


def deleted_phase(key, secret, token):
    @step
    def deleted_session_is_refused():
        expect_error(
            "a session whose record is gone",
            "InvalidClientTokenId",
            as_("sts", key, secret, token).get_caller_identity,
            status=403,
        )
        expect_error(
            "the same session on ECS",
            "UnrecognizedClientException",
            as_("ecs", key, secret, token).list_clusters,
        )


PHASE = ARGS[0] if ARGS else "main"
if PHASE == "main":
    main_phase()
elif PHASE == "after-restart":
    after_restart_phase(*ARGS[1:4])
elif PHASE == "expired":
    expired_phase(*ARGS[1:4])
elif PHASE == "deleted":
    deleted_phase(*ARGS[1:4])
else:
    raise SystemExit(f"unknown phase {PHASE}")

if __name__ == "__main__":
    main()
