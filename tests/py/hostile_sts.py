"""A hostile API caller against STS (issue 12): mallory, an IAM user allowed to assume a
role, calls AssumeRole past the per-caller cap of live sessions. The call past the cap is
refused with `LimitExceeded` (IAM's quota error and message form; HTTP 409) and stores
nothing; her earlier sessions still act with the role's permissions; another user, bob,
still assumes the same role; IAM's own per-caller state is bounded the same way
(AccessKeysPerUser). The Rust side checks the host stayed up and small.

Args: the cap (the host's `MAX_SESSIONS_PER_PRINCIPAL`).
"""

from wg import *  # noqa: F403

CAP = int(ARGS[0])
iam = client("iam")
ROLE = "target"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE}"
S = {}


def as_(service, key, secret, token=None):
    session = boto3.session.Session(
        aws_access_key_id=key, aws_secret_access_key=secret, aws_session_token=token, region_name=REGION
    )
    return session.client(service, endpoint_url=ENDPOINT, config=config())


def doc(*statements):
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def user_with_a_key(name):
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="assume",
                        PolicyDocument=doc({"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": ROLE_ARN}))
    k = iam.create_access_key(UserName=name)["AccessKey"]
    return k["AccessKeyId"], k["SecretAccessKey"]


def session_client(service, creds):
    return as_(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


@step
def a_role_and_two_users():
    trust = doc({"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, "Action": "sts:AssumeRole"})
    iam.create_role(RoleName=ROLE, AssumeRolePolicyDocument=trust)
    iam.put_role_policy(RoleName=ROLE, PolicyName="list",
                        PolicyDocument=doc({"Effect": "Allow", "Action": "ecs:ListClusters", "Resource": "*"}))
    S["mallory"] = user_with_a_key("mallory")
    S["bob"] = user_with_a_key("bob")


@step
def mallory_assumes_the_role_up_to_the_cap():
    sts = as_("sts", *S["mallory"])
    first = None
    for i in range(CAP):
        creds = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName=f"m{i}")["Credentials"]
        first = first or creds
        S["last"] = creds
    S["first"] = first


@step
def past_the_cap_she_is_refused_with_iams_quota_error():
    sts = as_("sts", *S["mallory"])
    for attempt in range(3):
        got = expect_error(f"AssumeRole past the cap (attempt {attempt})", "LimitExceeded", sts.assume_role,
                           status=409, RoleArn=ROLE_ARN, RoleSessionName="one-more")
        if got:
            check(got[1].startswith(f"Cannot exceed quota for SessionsPerCaller: {CAP} ("),
                  "the message names the quota and its value", got[1])
            check("arn:aws:iam::000000000000:user/mallory" in got[1], "the message names the caller", got[1])


@step
def her_earlier_sessions_still_work():
    for which in ("first", "last"):
        ecs_as = session_client("ecs", S[which])
        check("clusterArns" in ecs_as.list_clusters(), f"the {which} session acts as the role")
        who = session_client("sts", S[which]).get_caller_identity()
        check(who["Arn"].startswith(f"arn:aws:sts::{ACCOUNT}:assumed-role/{ROLE}/m"), f"the {which} session's identity", who)


@step
def another_caller_still_assumes_the_role():
    creds = as_("sts", *S["bob"]).assume_role(RoleArn=ROLE_ARN, RoleSessionName="bob")["Credentials"]
    check(creds["AccessKeyId"].startswith("ASIA"), "bob gets a session", creds["AccessKeyId"])
    check("clusterArns" in session_client("ecs", creds).list_clusters(), "bob's session acts as the role")


@step
def access_keys_per_user_are_capped_too():
    # mallory has one key; IAM's AccessKeysPerUser quota is 2.
    iam.create_access_key(UserName="mallory")
    expect_error("a third access key", "LimitExceeded", iam.create_access_key, status=409,
                 UserName="mallory", contains="Cannot exceed quota for AccessKeysPerUser: 2")
    eq(len(iam.list_access_keys(UserName="mallory")["AccessKeyMetadata"]), 2, "nothing stored")


main()
