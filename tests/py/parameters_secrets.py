"""SSM Parameter Store and Secrets Manager with boto3: SecureString with and without
decryption, versions and history, by-path recursion and pagination, JSON secrets and their
staging labels, partial ARNs, delete/restore, and each error code once.

Args: <secure-string value> <secret password> <plain String value> (the Rust side then
looks for them in the raw state files)."""

import base64
import json

from wg import *  # noqa: F403

SECURE, SECRET_PW, PLAIN = ARGS[0], ARGS[1], ARGS[2]
ssm = client("ssm")
sm = client("secretsmanager")
ssm_raw = client("ssm", validate=False)
sm_raw = client("secretsmanager", validate=False)
S = {}


@step
def secure_string_with_and_without_decryption():
    r = ssm.put_parameter(Name="/app/db/password", Value=SECURE, Type="SecureString", Description="db pw")
    eq(r["Version"], 1, "first version")
    eq(r["Tier"], "Standard", "tier")
    p = ssm.get_parameter(Name="/app/db/password", WithDecryption=True)["Parameter"]
    eq(p["Value"], SECURE, "decrypted value")
    eq(p["Type"], "SecureString", "type")
    eq(p["ARN"], f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/app/db/password", "ARN")
    check(is_epoch_seconds(p["LastModifiedDate"]), "LastModifiedDate is a time", p)
    opaque = ssm.get_parameter(Name="/app/db/password")["Parameter"]["Value"]
    check(opaque != SECURE and SECURE not in opaque, "no clear value without decryption", opaque)
    check(len(base64.b64decode(opaque)) > len(SECURE), "ciphertext is base64", opaque)
    ssm.put_parameter(Name="/app/db/host", Value=PLAIN, Type="String")
    eq(ssm.get_parameter(Name="/app/db/host")["Parameter"]["Value"], PLAIN, "String value as is")


@step
def versions_selectors_and_history():
    for i, v in enumerate(["v1", "v2", "v3"], start=1):
        r = ssm.put_parameter(Name="/app/level", Value=v, Type="String", Overwrite=i > 1)
        eq(r["Version"], i, f"version {i}")
    p = ssm.get_parameter(Name="/app/level:2")["Parameter"]
    eq((p["Value"], p["Selector"], p["Version"]), ("v2", ":2", 2), "name:version selector")
    r = ssm.get_parameters(Names=["/app/level", "/app/level:1", "/app/none", "/app/level:8"])
    eq(sorted(x["Value"] for x in r["Parameters"]), ["v1", "v3"], "found")
    eq(sorted(r["InvalidParameters"]), ["/app/level:8", "/app/none"], "InvalidParameters")
    h, token, pages = [], None, 0
    while True:
        kw = {"Name": "/app/level", "MaxResults": 2}
        if token:
            kw["NextToken"] = token
        r = ssm.get_parameter_history(**kw)
        h += [(x["Version"], x["Value"]) for x in r["Parameters"]]
        pages += 1
        token = r.get("NextToken")
        if not token or pages > 5:
            break
    eq(h, [(1, "v1"), (2, "v2"), (3, "v3")], "history, oldest first")
    hist = ssm.get_parameter_history(Name="/app/db/password")["Parameters"]
    check(SECURE not in json.dumps(hist, default=str), "history without decryption hides it", hist)
    hist = ssm.get_parameter_history(Name="/app/db/password", WithDecryption=True)["Parameters"]
    eq(hist[0]["Value"], SECURE, "history with decryption")


@step
def by_path_recursion_and_pagination():
    for n in ["/tree/a", "/tree/b", "/tree/c", "/tree/sub/d", "/tree/sub/deeper/e", "/treehouse"]:
        ssm.put_parameter(Name=n, Value=n, Type="String")
    one = ssm.get_parameters_by_path(Path="/tree")["Parameters"]
    eq([p["Name"] for p in one], ["/tree/a", "/tree/b", "/tree/c"], "one level")
    pager = ssm.get_paginator("get_parameters_by_path")
    names = [p["Name"] for page in pager.paginate(Path="/tree", Recursive=True, PaginationConfig={"PageSize": 2}) for p in page["Parameters"]]
    eq(names, ["/tree/a", "/tree/b", "/tree/c", "/tree/sub/d", "/tree/sub/deeper/e"], "recursive, paged")
    d = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": ["/tree/sub"]}])
    eq(sorted(p["Name"] for p in d["Parameters"]), ["/tree/sub/d", "/tree/sub/deeper/e"], "describe BeginsWith")
    d = ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": ["/app/db/password"]}])["Parameters"]
    eq([p["Type"] for p in d], ["SecureString"], "describe Equals")
    check("Value" not in d[0], "describe has no values", d)
    pager = ssm.get_paginator("describe_parameters")
    total = sum(len(page["Parameters"]) for page in pager.paginate(PaginationConfig={"PageSize": 3}))
    eq(total, 9, "all parameters over pages")


@step
def ssm_errors():
    expect_error("overwrite off", "ParameterAlreadyExists", ssm.put_parameter, Name="/app/level", Value="x", Type="String")
    expect_error("missing", "ParameterNotFound", ssm.get_parameter, Name="/app/nothing")
    expect_error("bad version", "ParameterVersionNotFound", ssm.get_parameter, Name="/app/level:42")
    expect_error("too big", "ValidationException", ssm.put_parameter, Name="/big", Value="x" * 4097, Type="String", contains="4096")
    expect_error("bad name", "ValidationException", ssm.put_parameter, Name="a/b", Value="x", Type="String")
    expect_error("too deep", "HierarchyLevelLimitExceededException", ssm.put_parameter, Name="/l" * 16, Value="x", Type="String")
    expect_error("bad filter", "InvalidFilterKey", ssm.get_parameters_by_path, Path="/tree", ParameterFilters=[{"Key": "Name", "Values": ["x"]}])
    expect_error("bad token", "InvalidNextToken", ssm.describe_parameters, NextToken="nope")
    r = ssm.put_parameter(Name="/big", Value="x" * 8000, Type="String", Tier="Advanced")
    eq(r["Tier"], "Advanced", "advanced tier holds 8 KB")
    ssm.delete_parameter(Name="/big")
    expect_error("deleted", "ParameterNotFound", ssm.delete_parameter, Name="/big")
    r = ssm.delete_parameters(Names=["/treehouse", "/never"])
    eq((r["DeletedParameters"], r["InvalidParameters"]), (["/treehouse"], ["/never"]), "DeleteParameters")


@step
def json_secret_and_staging_labels():
    value = json.dumps({"username": "admin", "password": SECRET_PW})
    r = sm.create_secret(Name="prod/db", SecretString=value, Description="the db", Tags=[{"Key": "team", "Value": "blue"}])
    arn = r["ARN"]
    check(re.fullmatch(rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db-[A-Za-z0-9]{{6}}", arn), "ARN with suffix", arn)
    S["arn"], S["v1"] = arn, r["VersionId"]
    g = sm.get_secret_value(SecretId="prod/db")
    eq(json.loads(g["SecretString"])["password"], SECRET_PW, "value")
    eq(g["VersionStages"], ["AWSCURRENT"], "stages")
    r = sm.put_secret_value(SecretId=arn, SecretString=json.dumps({"username": "admin", "password": SECRET_PW + "-2"}))
    S["v2"] = r["VersionId"]
    eq(r["VersionStages"], ["AWSCURRENT"], "new version is current")
    prev = sm.get_secret_value(SecretId="prod/db", VersionStage="AWSPREVIOUS")
    eq(prev["VersionId"], S["v1"], "old version is AWSPREVIOUS")
    d = sm.describe_secret(SecretId="prod/db")
    eq(d["VersionIdsToStages"], {S["v1"]: ["AWSPREVIOUS"], S["v2"]: ["AWSCURRENT"]}, "VersionIdsToStages")
    eq(d["Description"], "the db", "description")
    check(SECRET_PW not in json.dumps(d, default=str), "describe has no value", d)
    partial = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:prod/db"
    eq(sm.get_secret_value(SecretId=partial)["VersionId"], S["v2"], "partial ARN")
    eq(sm.get_secret_value(SecretId="prod/db", VersionId=S["v1"])["VersionStages"], ["AWSPREVIOUS"], "by VersionId")
    u = sm.update_secret(SecretId="prod/db", Description="changed")
    eq(u["ARN"], arn, "update keeps the ARN")
    check("VersionId" not in u, "no version without a value", u)
    b = sm.create_secret(Name="blob", SecretBinary=b"\x00\x01\xff")
    eq(sm.get_secret_value(SecretId=b["ARN"])["SecretBinary"], b"\x00\x01\xff", "binary secret")


@step
def list_filters_and_pages():
    for i in range(5):
        sm.create_secret(Name=f"list/s{i}", SecretString="v", Tags=[{"Key": "idx", "Value": str(i)}])
    pager = sm.get_paginator("list_secrets")
    names = [s["Name"] for page in pager.paginate(Filters=[{"Key": "name", "Values": ["list/"]}], PaginationConfig={"PageSize": 2}) for s in page["SecretList"]]
    eq(sorted(names), [f"list/s{i}" for i in range(5)], "filtered and paged")
    r = sm.list_secrets(Filters=[{"Key": "tag-value", "Values": ["3"]}])
    eq([s["Name"] for s in r["SecretList"]], ["list/s3"], "tag-value")
    r = sm.list_secrets(Filters=[{"Key": "description", "Values": ["CHANGED"]}])
    eq([s["Name"] for s in r["SecretList"]], ["prod/db"], "description, any case")


@step
def delete_and_restore():
    r = sm.delete_secret(SecretId="list/s0", RecoveryWindowInDays=7)
    days = (r["DeletionDate"].timestamp() - time.time()) / 86400
    check(6.9 < days < 7.1, "deletion in 7 days", days)
    expect_error("value of a deleted secret", "InvalidRequestException", sm.get_secret_value, SecretId="list/s0", contains="marked for deletion")
    check("DeletedDate" in sm.describe_secret(SecretId="list/s0"), "DeletedDate", None)
    names = [s["Name"] for s in sm.list_secrets(MaxResults=100)["SecretList"]]
    check("list/s0" not in names, "deleted secret not listed", names)
    names = [s["Name"] for s in sm.list_secrets(IncludePlannedDeletion=True, MaxResults=100)["SecretList"]]
    check("list/s0" in names, "listed with IncludePlannedDeletion", names)
    sm.restore_secret(SecretId="list/s0")
    eq(sm.get_secret_value(SecretId="list/s0")["SecretString"], "v", "restored")
    sm.delete_secret(SecretId="list/s1", ForceDeleteWithoutRecovery=True)
    expect_error("purged", "ResourceNotFoundException", sm.describe_secret, SecretId="list/s1")


@step
def secrets_manager_errors():
    expect_error("exists", "ResourceExistsException", sm.create_secret, Name="prod/db", SecretString="x")
    expect_error("missing", "ResourceNotFoundException", sm.get_secret_value, SecretId="nope")
    expect_error("window", "InvalidParameterException", sm.delete_secret, SecretId="prod/db", RecoveryWindowInDays=3, contains="RecoveryWindowInDays")
    expect_error("both values", "InvalidParameterException", sm.create_secret, Name="two", SecretString="a", SecretBinary=b"b")
    expect_error("too big", "ValidationException", sm_raw.create_secret, Name="huge", SecretString="x" * 65537, contains="secretString")
    expect_error("bad name", "ValidationException", sm_raw.create_secret, Name="has space", SecretString="x")
    expect_error("bad token", "InvalidNextTokenException", sm.list_secrets, NextToken="garbage")
    expect_error("no stage", "ResourceNotFoundException", sm.get_secret_value, SecretId="prod/db", VersionStage="NOPE")
    sm.create_secret(Name="max", SecretString="x" * 65536)


main()
