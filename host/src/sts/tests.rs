//! The STS service through the router, as a client sees it: awsQuery requests in, XML out.

use std::sync::Arc;

use bytes::Bytes;
use time::OffsetDateTime;

use super::*;
use crate::api::Auth;
use crate::config::ApiConfig;
use crate::iam::store::{IamStore, KeyStatus};
use crate::protocol::{ApiError, CredentialSource, Principal, PrincipalKind, ProtocolKind, Router};
use crate::state::StateStore;
use crate::state::memory::MemStore;

const ACCOUNT: &str = "000000000000";
const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/deploy";

/// Roles whose "trust policy" is a list of `principal-arn action` lines: enough to drive
/// the service; the policy language itself is the evaluator's tests.
struct FakeRoles;

impl RoleDirectory for FakeRoles {
    fn role(&self, name: &str) -> Result<Option<RoleInfo>, ApiError> {
        let (trust, max) = match name {
            "deploy" => (
                "arn:aws:iam::000000000000:root sts:AssumeRole\n\
                 arn:aws:iam::000000000000:root sts:TagSession",
                3600,
            ),
            "long" => ("arn:aws:iam::000000000000:root sts:AssumeRole", 43_200),
            "alice-only" => ("arn:aws:iam::000000000000:user/alice sts:AssumeRole", 3600),
            _ => return Ok(None),
        };
        Ok(Some(RoleInfo {
            name: name.into(),
            id: format!("AROA{}", name.to_uppercase().replace('-', "")),
            arn: format!("arn:aws:iam::{ACCOUNT}:role/{name}"),
            max_session_duration: max,
            trust_policy: trust.into(),
        }))
    }

    fn trusts(&self, role: &RoleInfo, r: &TrustRequest<'_>) -> Result<bool, ApiError> {
        Ok(role.trust_policy.lines().any(|line| {
            let (who, action) = line.split_once(' ').unwrap();
            action == r.action && r.caller_arns.iter().any(|a| a == who)
        }))
    }
}

struct Fixture {
    router: Router,
    sessions: Arc<Sessions>,
    iam: Arc<IamStore>,
    store: Arc<dyn StateStore>,
}

fn fixture() -> Fixture {
    let store: Arc<dyn StateStore> = Arc::new(MemStore::default());
    let sessions = Arc::new(Sessions::open(store.clone(), OffsetDateTime::now_utc()).unwrap());
    let sts = StsService::new(sessions.clone(), Arc::new(FakeRoles), ACCOUNT.into());
    let router = Router::builder().service(Arc::new(sts)).build().unwrap();
    let iam = Arc::new(IamStore::new(store.clone(), ACCOUNT, "us-east-1").unwrap());
    Fixture {
        router,
        sessions,
        iam,
        store,
    }
}

fn root() -> Principal {
    Principal::root("test", "arn:aws:iam::000000000000:user/test")
}

fn alice() -> Principal {
    Principal {
        access_key_id: "AKIAALICE".into(),
        arn: "arn:aws:iam::000000000000:user/alice".into(),
        kind: PrincipalKind::User {
            name: "alice".into(),
            id: "AIDAALICE".into(),
        },
    }
}

struct Answer {
    status: u16,
    body: String,
}

impl Fixture {
    async fn call(&self, who: Principal, form: &str) -> Answer {
        let parts = http::Request::builder()
            .method("POST")
            .uri("/")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(())
            .unwrap()
            .into_parts()
            .0;
        let routed = self.router.route(&parts, Some("sts"));
        let r = routed
            .call(who, "req-1", &parts, Bytes::from(form.to_owned()))
            .await;
        Answer {
            status: r.status().as_u16(),
            body: String::from_utf8(r.body().to_vec()).unwrap(),
        }
    }

    async fn assume(&self, who: Principal, extra: &str) -> Answer {
        self.call(
            who,
            &format!(
                "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=ci{extra}",
                ROLE_ARN.replace(':', "%3A").replace('/', "%2F")
            ),
        )
        .await
    }
}

/// The text of the first `<tag>…</tag>`, unescaped.
fn xml(body: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = body
        .find(&open)
        .unwrap_or_else(|| panic!("no <{tag}> in {body}"))
        + open.len();
    let end = body[start..].find(&format!("</{tag}>")).unwrap() + start;
    body[start..end]
        .replace("&apos;", "'")
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn get_caller_identity_for_each_kind_of_principal() {
    let f = fixture();
    let who = "Action=GetCallerIdentity&Version=2011-06-15";
    let a = f.call(root(), who).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(a.body.contains("<GetCallerIdentityResult>"), "{}", a.body);
    assert_eq!(xml(&a.body, "UserId"), ACCOUNT);
    assert_eq!(xml(&a.body, "Account"), ACCOUNT);
    assert_eq!(xml(&a.body, "Arn"), "arn:aws:iam::000000000000:user/test");

    let a = f.call(alice(), who).await;
    assert_eq!(xml(&a.body, "UserId"), "AIDAALICE");
    assert_eq!(xml(&a.body, "Arn"), "arn:aws:iam::000000000000:user/alice");

    let a = f.assume(root(), "").await;
    let key = xml(&a.body, "AccessKeyId").to_owned();
    let session = f.sessions.credential(&key).unwrap().principal;
    let a = f.call(session, who).await;
    assert_eq!(xml(&a.body, "UserId"), "AROADEPLOY:ci");
    assert_eq!(
        xml(&a.body, "Arn"),
        "arn:aws:sts::000000000000:assumed-role/deploy/ci"
    );
}

#[tokio::test]
async fn assume_role_hands_out_credentials_the_source_knows() {
    let f = fixture();
    let before = OffsetDateTime::now_utc();
    let a = f.assume(root(), "&DurationSeconds=900").await;
    assert_eq!(a.status, 200, "{}", a.body);
    let key = &xml(&a.body, "AccessKeyId");
    assert!(key.starts_with("ASIA") && key.len() == 20, "{key}");
    assert_eq!(xml(&a.body, "AssumedRoleId"), "AROADEPLOY:ci");
    assert_eq!(
        xml(&a.body, "Arn"),
        "arn:aws:sts::000000000000:assumed-role/deploy/ci"
    );
    let expiration = OffsetDateTime::parse(
        &xml(&a.body, "Expiration"),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let lifetime = expiration - before;
    assert!(
        (899..=902).contains(&lifetime.whole_seconds()),
        "{lifetime}"
    );

    let c = f.sessions.credential(key).unwrap();
    assert_eq!(c.secret_access_key, xml(&a.body, "SecretAccessKey"));
    assert_eq!(
        c.session_token.as_deref(),
        Some(xml(&a.body, "SessionToken").as_str())
    );
    assert_eq!(
        c.expires_at.map(|t| t.unix_timestamp()),
        Some(expiration.unix_timestamp())
    );
    // Stored as a document too (it survives a restart).
    assert!(f.store.get_document(SESSION_KIND, key).unwrap().is_some());
}

#[tokio::test]
async fn refusals_answer_sts_errors_and_store_nothing() {
    let f = fixture();
    let denied = |a: &Answer, caller: &str, action: &str, arn: &str| {
        assert_eq!(a.status, 403, "{}", a.body);
        assert_eq!(xml(&a.body, "Code"), "AccessDenied");
        assert_eq!(
            xml(&a.body, "Message"),
            format!("User: {caller} is not authorized to perform: {action} on resource: {arn}")
        );
    };
    let role = |name: &str| format!("arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2F{name}");
    let form = |name: &str| {
        format!(
            "Action=AssumeRole&Version=2011-06-15&RoleArn={}&RoleSessionName=ci",
            role(name)
        )
    };

    // Unknown role, and a role whose trust policy names someone else.
    let a = f.call(root(), &form("nope")).await;
    denied(
        &a,
        "arn:aws:iam::000000000000:user/test",
        "sts:AssumeRole",
        "arn:aws:iam::000000000000:role/nope",
    );
    let a = f.call(root(), &form("alice-only")).await;
    denied(
        &a,
        "arn:aws:iam::000000000000:user/test",
        "sts:AssumeRole",
        "arn:aws:iam::000000000000:role/alice-only",
    );
    assert_eq!(f.call(alice(), &form("alice-only")).await.status, 200);
    // Session tags need sts:TagSession in the trust policy.
    let a = f
        .call(
            root(),
            &format!(
                "{}&Tags.member.1.Key=team&Tags.member.1.Value=web",
                form("long")
            ),
        )
        .await;
    denied(
        &a,
        "arn:aws:iam::000000000000:user/test",
        "sts:TagSession",
        "arn:aws:iam::000000000000:role/long",
    );
    // Another account's role.
    let a = f
        .call(
            root(),
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A111111111111%3Arole%2Fdeploy\
             &RoleSessionName=ci",
        )
        .await;
    assert_eq!(xml(&a.body, "Code"), "AccessDenied");

    let validation = |a: &Answer, needle: &str| {
        assert_eq!(a.status, 400, "{}", a.body);
        assert_eq!(xml(&a.body, "Code"), "ValidationError", "{}", a.body);
        assert!(xml(&a.body, "Message").contains(needle), "{}", a.body);
    };
    let a = f
        .call(
            root(),
            "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Auser%2Falice\
             &RoleSessionName=ci",
        )
        .await;
    validation(&a, "is invalid: RoleArn must be an IAM role ARN");
    let a = f.assume(root(), "&DurationSeconds=7200").await;
    validation(
        &a,
        "The requested DurationSeconds exceeds the MaxSessionDuration set for this role.",
    );
    let a = f.assume(root(), "&DurationSeconds=60").await;
    validation(&a, "Value '60' at 'durationSeconds'");
    let a = f.assume(root(), "&DurationSeconds=soon").await;
    validation(&a, "DurationSeconds");
    let a = f
        .call(
            root(),
            &format!(
                "Action=AssumeRole&RoleArn={}&RoleSessionName=a%20b",
                role("deploy")
            ),
        )
        .await;
    validation(&a, "at 'roleSessionName' failed to satisfy constraint");
    let a = f
        .call(
            root(),
            &format!("Action=AssumeRole&RoleArn={}", role("deploy")),
        )
        .await;
    validation(&a, "RoleSessionName");
    let a = f.assume(root(), "&Policy=%7B%7D").await;
    validation(
        &a,
        "Session policies (Policy, PolicyArns) are not supported",
    );

    // Only alice's session was stored.
    assert_eq!(f.sessions.len(), 1);
    assert_eq!(f.store.list_documents(SESSION_KIND, "").unwrap().len(), 1);
}

#[tokio::test]
async fn role_chaining_is_limited_to_an_hour() {
    let f = fixture();
    let a = f.assume(root(), "").await;
    let session = f
        .sessions
        .credential(&xml(&a.body, "AccessKeyId"))
        .unwrap()
        .principal;
    let long = "Action=AssumeRole&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2Flong\
                &RoleSessionName=again&DurationSeconds=7200";
    let a = f.call(session.clone(), long).await;
    assert!(
        xml(&a.body, "Message").contains("role chaining"),
        "{}",
        a.body
    );
    // Trusted through its account root, a session may assume another role for an hour.
    let a = f.call(session, &long.replace("7200", "3600")).await;
    assert_eq!(a.status, 200, "{}", a.body);
}

/// Expiry, with the SigV4 check's clock frozen after the session's end: `ExpiredToken`
/// (the transport's `ExpiredTokenException`, renamed for query services), and a wrong or
/// missing session token is `InvalidClientTokenId`.
#[tokio::test]
async fn expired_and_tampered_sessions_are_refused_by_the_signature_check() {
    let f = fixture();
    let a = f.assume(root(), "&DurationSeconds=900").await;
    let key = xml(&a.body, "AccessKeyId");
    let token = xml(&a.body, "SessionToken");
    let issued = OffsetDateTime::now_utc();
    let source: Arc<dyn CredentialSource> =
        Arc::new(Credentials::new(f.iam.clone(), f.sessions.clone()));
    let auth = Auth::from_config(&ApiConfig::default())
        .unwrap()
        .with_credential_source(source);
    let headers = |token: Option<&str>, at: OffsetDateTime| signed_headers(&key, token, at, "sts");
    // Within its lifetime the key and token pass the header check.
    let ok = auth.begin(&headers(Some(&token), issued), Some("sts"));
    assert!(ok.is_ok(), "{:?}", ok.err());
    let later = issued + time::Duration::seconds(901);
    let e = auth
        .clone()
        .with_frozen_clock(later)
        .begin(&headers(Some(&token), later), Some("sts"))
        .unwrap_err();
    assert_eq!(e.code, "ExpiredTokenException");
    let e = crate::api::auth_error_for(ProtocolKind::AwsQuery, e);
    assert_eq!((e.code.as_str(), e.status), ("ExpiredToken", 403));
    assert_eq!(
        e.message,
        "The security token included in the request is expired"
    );
    let e = auth
        .begin(&headers(Some("tampered"), issued), Some("sts"))
        .unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("InvalidClientTokenId", 403));
    let e = auth.begin(&headers(None, issued), Some("sts")).unwrap_err();
    assert_eq!(e.code, "InvalidClientTokenId");
    // Revoked: the key is unknown.
    assert!(f.sessions.revoke_session(&key).unwrap());
    let e = auth
        .begin(&headers(Some(&token), issued), Some("sts"))
        .unwrap_err();
    assert_eq!(e.code, "UnrecognizedClientException");
    let e = crate::api::auth_error_for(ProtocolKind::AwsQuery, e);
    assert_eq!((e.code.as_str(), e.status), ("InvalidClientTokenId", 403));
}

/// IAM users' keys: an Active key signs as its user, an Inactive one is refused
/// (`InvalidClientTokenId`), a deleted one is unknown.
#[tokio::test]
async fn user_keys_are_credentials_while_active() {
    let f = fixture();
    let user = f.iam.create_user("alice", None, Vec::new()).unwrap();
    let key = f.iam.create_access_key("alice").unwrap();
    let source = Credentials::new(f.iam.clone(), f.sessions.clone());
    let c = source.credential(&key.id).unwrap();
    assert_eq!(c.secret_access_key, key.secret);
    assert!(c.active && c.session_token.is_none() && c.expires_at.is_none());
    assert_eq!(c.principal.arn, "arn:aws:iam::000000000000:user/alice");
    assert_eq!(
        c.principal.kind,
        PrincipalKind::User {
            name: "alice".into(),
            id: user.id.clone()
        }
    );
    let auth = Auth::from_config(&ApiConfig::default())
        .unwrap()
        .with_credential_source(Arc::new(source));
    let now = OffsetDateTime::now_utc();
    let headers = || signed_headers(&key.id, None, now, "ecs");
    assert!(auth.begin(&headers(), Some("ecs")).is_ok());
    f.iam
        .update_access_key("alice", &key.id, KeyStatus::Inactive)
        .unwrap();
    let e = auth.begin(&headers(), Some("ecs")).unwrap_err();
    assert_eq!((e.code.as_str(), e.status), ("InvalidClientTokenId", 403));
    f.iam.delete_access_key("alice", &key.id).unwrap();
    let e = auth.begin(&headers(), Some("ecs")).unwrap_err();
    assert_eq!(e.code, "UnrecognizedClientException");
}

/// Headers that pass `Auth::begin` (key, token, date, scope) with a signature that would
/// not verify: `begin` decides on the key before the body is read.
fn signed_headers(
    key: &str,
    token: Option<&str>,
    at: OffsetDateTime,
    service: &str,
) -> http::HeaderMap {
    let date = format!("{:04}{:02}{:02}", at.year(), u8::from(at.month()), at.day());
    let amz = format!(
        "{date}T{:02}{:02}{:02}Z",
        at.hour(),
        at.minute(),
        at.second()
    );
    let signed = if token.is_some() {
        "host;x-amz-date;x-amz-security-token"
    } else {
        "host;x-amz-date"
    };
    let mut h = http::HeaderMap::new();
    h.insert("host", http::HeaderValue::from_static("x"));
    h.insert("x-amz-date", amz.parse().unwrap());
    h.insert(
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={key}/{date}/us-east-1/{service}/aws4_request, \
             SignedHeaders={signed}, Signature={}",
            "0".repeat(64)
        )
        .parse()
        .unwrap(),
    );
    if let Some(t) = token {
        h.insert("x-amz-security-token", t.parse().unwrap());
    }
    h
}

/// AWS, within one account: a trust policy naming the caller's ARN grants AssumeRole on
/// its own; one naming the account (root ARN or bare id) or `*` needs the caller's
/// identity policy too; an explicit deny in the identity policy still wins.
#[test]
fn a_trust_policy_naming_the_caller_needs_no_identity_policy() {
    use crate::iam::authz::PolicyAuthorizer;
    use crate::iam::store::{Holder, NewRole};
    use crate::protocol::AuthorizeRequest;
    use crate::protocol::value::Node;

    let f = fixture();
    let iam = f.iam.clone();
    iam.create_user("alice", None, Vec::new()).unwrap();
    let trusting = |name: &str, principal: &str| {
        iam.create_role(NewRole {
            name: name.into(),
            path: None,
            trust_policy: format!(
                r#"{{"Version":"2012-10-17","Statement":{{"Effect":"Allow","Principal":{{"AWS":"{principal}"}},"Action":"sts:AssumeRole"}}}}"#
            ),
            description: None,
            max_session_duration: None,
            tags: Vec::new(),
        })
        .unwrap();
    };
    trusting("direct", "arn:aws:iam::000000000000:user/alice");
    trusting("by-root", "arn:aws:iam::000000000000:root");
    trusting("by-id", ACCOUNT);
    trusting("anyone", "*");
    trusting("other", "arn:aws:iam::000000000000:user/bob");
    let authz = PolicyAuthorizer::new(iam.clone(), "us-east-1", ACCOUNT)
        .with_resource_grant(Arc::new(TrustGrant::new(iam.clone())));
    let who = Principal {
        access_key_id: "AKIAALICE".into(),
        arn: "arn:aws:iam::000000000000:user/alice".into(),
        kind: PrincipalKind::User {
            name: "alice".into(),
            id: iam.user("alice").unwrap().id.clone(),
        },
    };
    let may = |role: &str| {
        let input = Node::Struct(vec![
            (
                "RoleArn".into(),
                Node::Str(format!("arn:aws:iam::{ACCOUNT}:role/{role}")),
            ),
            ("RoleSessionName".into(), Node::Str("s".into())),
        ]);
        let request = AuthorizeRequest {
            principal: &who,
            action_prefix: "sts",
            operation: "AssumeRole",
            input: &input,
            source_ip: None,
            secure_transport: false,
        };
        authz.decide(&request, OffsetDateTime::now_utc()).is_ok()
    };
    assert!(may("direct"), "the trust policy names alice");
    assert!(
        !may("by-root"),
        "the account: alice's own policies must allow it"
    );
    assert!(!may("by-id"));
    assert!(!may("anyone"));
    assert!(!may("other"));

    iam.put_inline_policy(
        Holder::User,
        "alice",
        "assume",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"}}"#,
    )
    .unwrap();
    assert!(may("by-root") && may("by-id"), "with an identity policy");
    iam.put_inline_policy(
        Holder::User,
        "alice",
        "no-direct",
        r#"{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"sts:AssumeRole","Resource":"arn:aws:iam::000000000000:role/direct"}}"#,
    )
    .unwrap();
    assert!(
        !may("direct"),
        "an explicit deny wins over the trust policy"
    );
}

/// Live sessions per caller are capped (a role's sessions count as the role, so chaining
/// does not multiply them); past the cap: `LimitExceeded`, nothing stored.
#[tokio::test]
async fn sessions_per_caller_are_capped() {
    let mut f = fixture();
    let sts = StsService::new(f.sessions.clone(), Arc::new(FakeRoles), ACCOUNT.into())
        .with_session_cap(2);
    f.router = Router::builder().service(Arc::new(sts)).build().unwrap();
    let first = f.assume(root(), "").await;
    assert_eq!(first.status, 200, "{}", first.body);
    assert_eq!(f.assume(root(), "").await.status, 200);
    let refused = f.assume(root(), "").await;
    assert_eq!(refused.status, 409, "{}", refused.body);
    assert_eq!(xml(&refused.body, "Code"), "LimitExceeded");
    assert!(
        xml(&refused.body, "Message").starts_with("Cannot exceed quota for SessionsPerCaller: 2 ("),
        "{}",
        refused.body
    );
    assert_eq!(f.sessions.len(), 2, "nothing stored");

    // A session of `deploy` chains: its sessions count as the role, not as the caller.
    let session = f
        .sessions
        .get(&xml(&first.body, "AccessKeyId"))
        .unwrap()
        .principal();
    assert_eq!(f.assume(session.clone(), "").await.status, 200);
    assert_eq!(f.assume(session.clone(), "").await.status, 200);
    assert_eq!(f.assume(session, "").await.status, 409);
    assert_eq!(
        sessions::issuer_of("arn:aws:sts::000000000000:assumed-role/deploy/ci"),
        "arn:aws:iam::000000000000:role/deploy"
    );
}
