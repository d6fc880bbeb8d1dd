"""The IAM API with boto3: users, keys, groups, roles, managed policies with versions,
inline policies, IAM's errors, and (with the `persist-*` modes) state across a restart.

Usage: iam.py <port> [all | persist-setup | persist-check]
"""

import json

from wg import *  # noqa: F403

iam = client("iam")
iam_raw = client("iam", validate=False)
MODE = ARGS[0] if ARGS else "all"

ALLOW_RUN = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "RunInA", "Effect": "Allow", "Action": ["ecs:RunTask", "ecs:DescribeTasks"],
                   "Resource": "*"}],
}
DENY_DELETE = {
    "Version": "2012-10-17",
    "Statement": [{"Sid": "NoDelete", "Effect": "Deny", "Action": "ecs:DeleteCluster", "Resource": "*"}],
}
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"},
                   "Action": "sts:AssumeRole"}],
}


def doc(d):
    return json.dumps(d)


def scenario_steps():
    @step
    def users_and_tags():
        u = iam.create_user(UserName="alice", Path="/team/", Tags=[{"Key": "team", "Value": "web"}])["User"]
        eq(u["UserName"], "alice", "created user name")
        eq(u["Arn"], f"arn:aws:iam::{ACCOUNT}:user/team/alice", "user ARN with its path")
        check(u["UserId"].startswith("AIDA") and len(u["UserId"]) == 21, "user id AIDA…", u["UserId"])
        eq(u["Tags"], [{"Key": "team", "Value": "web"}], "tags of the created user")
        got = iam.get_user(UserName="alice")["User"]
        eq((got["UserId"], got["Path"]), (u["UserId"], "/team/"), "GetUser")
        # Names compare case-insensitively.
        eq(iam.get_user(UserName="ALICE")["User"]["UserName"], "alice", "GetUser in another case")
        me = iam.get_user()["User"]
        eq(me["Arn"], f"arn:aws:iam::{ACCOUNT}:root", "GetUser without a name: the root caller")
        iam.create_user(UserName="bob")
        names = [x["UserName"] for x in iam.list_users()["Users"]]
        eq(names, ["alice", "bob"], "ListUsers")
        eq([x["UserName"] for x in iam.list_users(PathPrefix="/team/")["Users"]], ["alice"], "PathPrefix")
        page1 = iam.list_users(MaxItems=1)
        check(page1["IsTruncated"] and page1["Marker"], "first page is truncated", page1)
        page2 = iam.list_users(Marker=page1["Marker"])
        eq([x["UserName"] for x in page2["Users"]], ["bob"], "second page")
        iam.tag_user(UserName="alice", Tags=[{"Key": "env", "Value": "prod"}])
        iam.untag_user(UserName="alice", TagKeys=["team"])
        eq(iam.list_user_tags(UserName="alice")["Tags"], [{"Key": "env", "Value": "prod"}], "ListUserTags")
        expect_error("a user created twice", "EntityAlreadyExists", iam.create_user, UserName="Alice",
                     status=409, contains="User with name Alice already exists.")
        expect_error("a missing user", "NoSuchEntity", iam.get_user, UserName="nobody", status=404,
                     contains="The user with name nobody cannot be found.")
        expect_error("a name with a space", "ValidationError", iam.create_user, UserName="a b",
                     contains="Member must satisfy regular expression pattern: [\\w+=,.@-]+")
        expect_error("a name of 65 characters", "ValidationError", iam.create_user, UserName="a" * 65,
                     contains="length less than or equal to 64")
        eq(len(iam.list_users()["Users"]), 2, "refused requests created nothing")

    @step
    def access_keys():
        k = iam.create_access_key(UserName="alice")["AccessKey"]
        check(k["AccessKeyId"].startswith("AKIA") and len(k["AccessKeyId"]) == 20, "key id AKIA…", k)
        eq(len(k["SecretAccessKey"]), 40, "secret length")
        eq(k["Status"], "Active", "a new key is Active")
        k2 = iam.create_access_key(UserName="alice")["AccessKey"]
        expect_error("a third key", "LimitExceeded", iam.create_access_key, UserName="alice", status=409,
                     contains="AccessKeysPerUser: 2")
        iam.update_access_key(UserName="alice", AccessKeyId=k2["AccessKeyId"], Status="Inactive")
        meta = {m["AccessKeyId"]: m["Status"] for m in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]}
        eq(meta, {k["AccessKeyId"]: "Active", k2["AccessKeyId"]: "Inactive"}, "ListAccessKeys")
        expect_error("a bad status", "ValidationError", iam_raw.update_access_key, UserName="alice",
                     AccessKeyId=k2["AccessKeyId"], Status="Paused")
        expect_error("another user's key", "NoSuchEntity", iam.delete_access_key, UserName="bob",
                     AccessKeyId=k2["AccessKeyId"], status=404)
        expect_error("deleting a user with keys", "DeleteConflict", iam.delete_user, UserName="alice",
                     status=409, contains="Cannot delete entity, must delete access keys first.")
        iam.delete_access_key(UserName="alice", AccessKeyId=k2["AccessKeyId"])
        eq(len(iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]), 1, "one key left")

    @step
    def inline_policies():
        text = json.dumps(ALLOW_RUN, indent=2)
        iam.put_user_policy(UserName="alice", PolicyName="run", PolicyDocument=text)
        got = iam.get_user_policy(UserName="alice", PolicyName="run")
        eq(got["PolicyDocument"], ALLOW_RUN, "the inline policy round-trips (URL-encoded on the wire)")
        eq(iam.list_user_policies(UserName="alice")["PolicyNames"], ["run"], "ListUserPolicies")
        expect_error("malformed JSON", "MalformedPolicyDocument", iam.put_user_policy, UserName="alice",
                     PolicyName="bad", PolicyDocument="{not json", contains="line 1")
        # Each refusal names where the problem is.
        for what, stmt, where in (
            ("an unknown condition operator", dict(ALLOW_RUN["Statement"][0], Condition={"StringEqualz": {"aws:username": "a"}}),
             "Statement[0].Condition: unknown condition operator StringEqualz"),
            ("an invalid resource ARN", dict(ALLOW_RUN["Statement"][0], Resource="cluster/a"),
             'Statement[0].Resource: invalid resource "cluster/a"'),
            ("an invalid action", dict(ALLOW_RUN["Statement"][0], Action="RunTask"),
             'Statement[0].Action: invalid action "RunTask"'),
        ):
            expect_error(what, "MalformedPolicyDocument", iam.put_user_policy, UserName="alice", PolicyName="bad",
                         PolicyDocument=doc({"Version": "2012-10-17", "Statement": [stmt]}), contains=where)
        expect_error("a managed policy with an unknown operator", "MalformedPolicyDocument", iam.create_policy,
                     PolicyName="bad", contains="unknown condition operator StringEqualz",
                     PolicyDocument=doc({"Version": "2012-10-17", "Statement": [
                         dict(ALLOW_RUN["Statement"][0], Condition={"StringEqualz": {"aws:username": "a"}})]}))
        eq(iam.list_policies(Scope="Local")["Policies"], [], "the refused managed policy was not stored")
        big = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": "ecs:RunTask", "Resource": f"arn:aws:ecs:us-east-1:{ACCOUNT}:cluster/" + "x" * 2100}]}
        expect_error("a user inline policy over 2,048 characters", "LimitExceeded", iam.put_user_policy,
                     UserName="alice", PolicyName="big", PolicyDocument=doc(big), status=409,
                     contains="Maximum policy size of 2048 bytes exceeded for user alice")
        eq(iam.list_user_policies(UserName="alice")["PolicyNames"], ["run"], "refused policies were not stored")
        expect_error("deleting a user with policies", "DeleteConflict", iam.delete_user, UserName="alice",
                     status=409)
        expect_error("a missing inline policy", "NoSuchEntity", iam.get_user_policy, UserName="alice",
                     PolicyName="nope", status=404, contains="The user policy with name nope cannot be found.")

    @step
    def groups():
        g = iam.create_group(GroupName="devs")["Group"]
        check(g["GroupId"].startswith("AGPA"), "group id AGPA…", g)
        iam.add_user_to_group(GroupName="devs", UserName="alice")
        got = iam.get_group(GroupName="devs")
        eq([u["UserName"] for u in got["Users"]], ["alice"], "GetGroup members")
        eq([x["GroupName"] for x in iam.list_groups_for_user(UserName="alice")["Groups"]], ["devs"],
           "ListGroupsForUser")
        iam.put_group_policy(GroupName="devs", PolicyName="deny", PolicyDocument=doc(DENY_DELETE))
        eq(iam.get_group_policy(GroupName="devs", PolicyName="deny")["PolicyDocument"], DENY_DELETE,
           "group inline policy round-trips")
        expect_error("deleting a group with members", "DeleteConflict", iam.delete_group, GroupName="devs",
                     status=409)
        iam.create_group(GroupName="tmp")
        iam.add_user_to_group(GroupName="tmp", UserName="bob")
        iam.remove_user_from_group(GroupName="tmp", UserName="bob")
        iam.delete_group(GroupName="tmp")
        eq([x["GroupName"] for x in iam.list_groups()["Groups"]], ["devs"], "ListGroups after delete")
        expect_error("a missing group", "NoSuchEntity", iam.get_group, GroupName="tmp", status=404,
                     contains="The group with name tmp cannot be found.")

    @step
    def simulate_principal_policy():
        r = iam.simulate_principal_policy(
            PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/team/alice",
            ActionNames=["ecs:RunTask", "ecs:DeleteCluster", "ecs:StopTask"])["EvaluationResults"]
        got = {x["EvalActionName"]: (x["EvalDecision"], [(m["SourcePolicyId"], m["SourcePolicyType"])
                                                         for m in x.get("MatchedStatements", [])]) for x in r}
        eq(got, {"ecs:RunTask": ("allowed", [("run", "user")]),
                 "ecs:DeleteCluster": ("explicitDeny", [("deny", "group")]),
                 "ecs:StopTask": ("implicitDeny", [])}, "decisions of alice's and her group's policies")
        expect_error("a missing user", "NoSuchEntity", iam.simulate_principal_policy,
                     PolicySourceArn=f"arn:aws:iam::{ACCOUNT}:user/nobody", ActionNames=["ecs:RunTask"], status=404)

    @step
    def roles():
        r = iam.create_role(RoleName="runner", AssumeRolePolicyDocument=doc(TRUST), Description="runs tasks",
                            MaxSessionDuration=7200, Tags=[{"Key": "k", "Value": "v"}])["Role"]
        check(r["RoleId"].startswith("AROA"), "role id AROA…", r)
        eq(r["Arn"], f"arn:aws:iam::{ACCOUNT}:role/runner", "role ARN")
        got = iam.get_role(RoleName="runner")["Role"]
        eq(got["AssumeRolePolicyDocument"], TRUST, "the trust policy round-trips")
        eq((got["MaxSessionDuration"], got["Description"]), (7200, "runs tasks"), "session length, description")
        eq([x["RoleName"] for x in iam.list_roles()["Roles"]], ["runner"], "ListRoles")
        new_trust = dict(TRUST, Statement=[dict(TRUST["Statement"][0], Principal={"Service": "ecs-tasks.amazonaws.com"})])
        iam.update_assume_role_policy(RoleName="runner", PolicyDocument=doc(new_trust))
        eq(iam.get_role(RoleName="runner")["Role"]["AssumeRolePolicyDocument"], new_trust, "UpdateAssumeRolePolicy")
        iam.tag_role(RoleName="runner", Tags=[{"Key": "team", "Value": "a"}])
        eq(len(iam.get_role(RoleName="runner")["Role"]["Tags"]), 2, "TagRole")
        expect_error("MaxSessionDuration below 3600", "ValidationError", iam_raw.create_role, RoleName="short",
                     AssumeRolePolicyDocument=doc(TRUST), MaxSessionDuration=100,
                     contains="greater than or equal to 3600")
        expect_error("a trust policy that is not JSON", "MalformedPolicyDocument", iam.create_role,
                     RoleName="broken", AssumeRolePolicyDocument="[")
        expect_error("a role created twice", "EntityAlreadyExists", iam.create_role, RoleName="runner",
                     AssumeRolePolicyDocument=doc(TRUST), status=409)
        iam.put_role_policy(RoleName="runner", PolicyName="p", PolicyDocument=doc(ALLOW_RUN))
        eq(iam.get_role_policy(RoleName="runner", PolicyName="p")["PolicyDocument"], ALLOW_RUN, "role inline policy")
        expect_error("deleting a role with policies", "DeleteConflict", iam.delete_role, RoleName="runner",
                     status=409)
        eq([x["RoleName"] for x in iam.list_roles()["Roles"]], ["runner"], "refused requests created no role")

    @step
    def managed_policies():
        p = iam.create_policy(PolicyName="RunInA", PolicyDocument=doc(ALLOW_RUN), Description="d")["Policy"]
        arn = p["Arn"]
        eq(arn, f"arn:aws:iam::{ACCOUNT}:policy/RunInA", "policy ARN")
        check(p["PolicyId"].startswith("ANPA"), "policy id ANPA…", p)
        eq((p["DefaultVersionId"], p["AttachmentCount"]), ("v1", 0), "a new policy")
        v = iam.get_policy_version(PolicyArn=arn, VersionId="v1")["PolicyVersion"]
        eq((v["Document"], v["IsDefaultVersion"]), (ALLOW_RUN, True), "GetPolicyVersion's document")
        v2 = iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(DENY_DELETE), SetAsDefault=True)
        eq(v2["PolicyVersion"]["VersionId"], "v2", "second version")
        eq(iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"], "v2", "SetAsDefault")
        for _ in range(3):
            iam.create_policy_version(PolicyArn=arn, PolicyDocument=doc(ALLOW_RUN))
        expect_error("a sixth version", "LimitExceeded", iam.create_policy_version, PolicyArn=arn,
                     PolicyDocument=doc(ALLOW_RUN), status=409)
        ids = [x["VersionId"] for x in iam.list_policy_versions(PolicyArn=arn)["Versions"]]
        eq(sorted(ids), ["v1", "v2", "v3", "v4", "v5"], "ListPolicyVersions")
        expect_error("deleting the default version", "DeleteConflict", iam.delete_policy_version, PolicyArn=arn,
                     VersionId="v2", status=409)
        iam.attach_user_policy(UserName="alice", PolicyArn=arn)
        iam.attach_group_policy(GroupName="devs", PolicyArn=arn)
        iam.attach_role_policy(RoleName="runner", PolicyArn=arn)
        eq(iam.list_attached_user_policies(UserName="alice")["AttachedPolicies"],
           [{"PolicyName": "RunInA", "PolicyArn": arn}], "ListAttachedUserPolicies")
        eq(len(iam.list_attached_group_policies(GroupName="devs")["AttachedPolicies"]), 1, "group attachment")
        eq(len(iam.list_attached_role_policies(RoleName="runner")["AttachedPolicies"]), 1, "role attachment")
        eq(iam.get_policy(PolicyArn=arn)["Policy"]["AttachmentCount"], 3, "AttachmentCount")
        eq([x["PolicyName"] for x in iam.list_policies(Scope="Local", OnlyAttached=True)["Policies"]], ["RunInA"],
           "ListPolicies OnlyAttached")
        eq(iam.list_policies(Scope="AWS")["Policies"], [], "no AWS managed policies")
        expect_error("deleting an attached policy", "DeleteConflict", iam.delete_policy, PolicyArn=arn, status=409)
        for n in range(10):
            iam.create_policy(PolicyName=f"p{n}", PolicyDocument=doc(ALLOW_RUN))
        for n in range(9):
            iam.attach_user_policy(UserName="alice", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/p{n}")
        expect_error("an eleventh attached policy", "LimitExceeded", iam.attach_user_policy, UserName="alice",
                     PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/p9", status=409, contains="PoliciesPerUser: 10")
        expect_error("a missing policy", "NoSuchEntity", iam.get_policy, PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/x",
                     status=404)
        expect_error("a policy ARN that is none", "InvalidInput", iam.get_policy,
                     PolicyArn="arn:aws:s3:::bucket/not-a-policy")
        big = dict(ALLOW_RUN, Statement=[dict(ALLOW_RUN["Statement"][0], Resource="x" * 6200)])
        expect_error("a managed policy over 6,144 characters", "LimitExceeded", iam.create_policy,
                     PolicyName="big", PolicyDocument=doc(big), status=409)
        iam.detach_user_policy(UserName="alice", PolicyArn=arn)
        iam.detach_group_policy(GroupName="devs", PolicyArn=arn)
        iam.detach_role_policy(RoleName="runner", PolicyArn=arn)
        expect_error("deleting a policy with versions", "DeleteConflict", iam.delete_policy, PolicyArn=arn,
                     status=409)
        for vid in ["v1", "v3", "v4", "v5"]:
            iam.delete_policy_version(PolicyArn=arn, VersionId=vid)
        iam.delete_policy(PolicyArn=arn)
        expect_error("a deleted policy", "NoSuchEntity", iam.get_policy, PolicyArn=arn, status=404)

    @step
    def teardown():
        for n in range(9):
            iam.detach_user_policy(UserName="alice", PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/p{n}")
        iam.delete_user_policy(UserName="alice", PolicyName="run")
        iam.remove_user_from_group(GroupName="devs", UserName="alice")
        for k in iam.list_access_keys(UserName="alice")["AccessKeyMetadata"]:
            iam.delete_access_key(UserName="alice", AccessKeyId=k["AccessKeyId"])
        iam.delete_user(UserName="alice")
        iam.delete_role_policy(RoleName="runner", PolicyName="p")
        iam.delete_role(RoleName="runner")
        iam.delete_group_policy(GroupName="devs", PolicyName="deny")
        iam.delete_group(GroupName="devs")
        eq([x["UserName"] for x in iam.list_users()["Users"]], ["bob"], "only bob is left")
        expect_error("a deleted user", "NoSuchEntity", iam.get_user, UserName="alice", status=404)


def persist_setup_steps():
    @step
    def setup():
        iam.create_user(UserName="carol")
        k = iam.create_access_key(UserName="carol")["AccessKey"]
        p = iam.create_policy(PolicyName="Keep", PolicyDocument=doc(ALLOW_RUN))["Policy"]
        iam.attach_user_policy(UserName="carol", PolicyArn=p["Arn"])
        iam.put_user_policy(UserName="carol", PolicyName="inline", PolicyDocument=doc(DENY_DELETE))
        print("KEY " + k["AccessKeyId"] + " " + k["SecretAccessKey"], flush=True)


def persist_check_steps():
    @step
    def still_there():
        key_id = ARGS[1]
        eq(iam.get_user(UserName="carol")["User"]["UserName"], "carol", "the user survived")
        eq([m["AccessKeyId"] for m in iam.list_access_keys(UserName="carol")["AccessKeyMetadata"]], [key_id],
           "the key survived")
        eq([p["PolicyName"] for p in iam.list_attached_user_policies(UserName="carol")["AttachedPolicies"]],
           ["Keep"], "the attachment survived")
        eq(iam.get_user_policy(UserName="carol", PolicyName="inline")["PolicyDocument"], DENY_DELETE,
           "the inline policy survived")
        p = iam.get_policy(PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/Keep")["Policy"]
        eq(p["AttachmentCount"], 1, "the policy survived, attached")


{"all": scenario_steps, "persist-setup": persist_setup_steps, "persist-check": persist_check_steps}[MODE]()
main()
