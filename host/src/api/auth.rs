//! Who may call the API: the access keys of the host config (`[[api.keys]]`), each with the
//! principal it acts as. With no keys configured one key, `test`/`test`, exists for local use.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use time::OffsetDateTime;

use super::sigv4::{Presented, RequestHead, SigError};
use crate::config::ApiConfig;
use crate::protocol::{ApiError, CredentialSource, Principal, ProtocolKind};

/// The key that exists when the config names none.
pub const DEFAULT_ACCESS_KEY_ID: &str = "test";
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "test";

/// A config whose keys or ARN settings cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthConfigError {
    #[error("api.keys: access_key_id must not be empty")]
    EmptyKeyId,
    #[error(
        "api.keys: access_key_id {0:?} must be ASCII letters, digits, '_', '-' or '.' (no '/')"
    )]
    BadKeyId(String),
    #[error("api.keys: access key {0:?} is listed twice")]
    DuplicateKey(String),
    #[error("api.keys: access key {0:?} has an empty secret_access_key")]
    EmptySecret(String),
    #[error("api.keys: access key {key:?}: principal {principal:?} is not an ARN (arn:…)")]
    BadPrincipal { key: String, principal: String },
    #[error("api.account_id: {0:?} must be 12 digits")]
    BadAccountId(String),
    #[error("api.region: {0:?} must be lower-case letters, digits and '-' (e.g. us-east-1)")]
    BadRegion(String),
}

/// One access key and the principal requests signed with it act as.
#[derive(Clone)]
pub struct AccessKey {
    secret: String,
    pub principal: Principal,
}

impl fmt::Debug for AccessKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AccessKey")
            .field("principal", &self.principal)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[derive(Debug, Clone, Copy)]
enum Clock {
    System,
    Frozen(OffsetDateTime),
}

/// Verifies SigV4 signatures against the configured keys, then the [`CredentialSource`]
/// (IAM users' keys, STS sessions).
#[derive(Clone)]
pub struct Auth {
    keys: HashMap<String, AccessKey>,
    source: Option<Arc<dyn CredentialSource>>,
    region: String,
    only_default: bool,
    clock: Clock,
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Auth")
            .field("keys", &self.keys)
            .field("source", &self.source.is_some())
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

impl Auth {
    /// The keys of `[api]`, or the default `test`/`test` key when none are configured.
    pub fn from_config(api: &ApiConfig) -> Result<Self, AuthConfigError> {
        check_region(&api.region)?;
        if api.account_id.len() != 12 || !api.account_id.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthConfigError::BadAccountId(api.account_id.clone()));
        }
        let mut auth = Self {
            keys: HashMap::new(),
            source: None,
            region: api.region.clone(),
            only_default: api.keys.is_empty(),
            clock: Clock::System,
        };
        if api.keys.is_empty() {
            auth.insert(
                DEFAULT_ACCESS_KEY_ID,
                DEFAULT_SECRET_ACCESS_KEY,
                default_principal(&api.account_id, DEFAULT_ACCESS_KEY_ID),
            );
            return Ok(auth);
        }
        for k in &api.keys {
            let id = &k.access_key_id;
            if id.is_empty() {
                return Err(AuthConfigError::EmptyKeyId);
            }
            if !id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
            {
                return Err(AuthConfigError::BadKeyId(id.clone()));
            }
            if k.secret_access_key.is_empty() {
                return Err(AuthConfigError::EmptySecret(id.clone()));
            }
            if auth.keys.contains_key(id) {
                return Err(AuthConfigError::DuplicateKey(id.clone()));
            }
            let arn = match &k.principal {
                Some(p) if p.starts_with("arn:") => p.clone(),
                Some(p) => {
                    return Err(AuthConfigError::BadPrincipal {
                        key: id.clone(),
                        principal: p.clone(),
                    });
                }
                None => default_principal(&api.account_id, id),
            };
            auth.insert(id, &k.secret_access_key, arn);
        }
        Ok(auth)
    }

    fn insert(&mut self, id: &str, secret: &str, arn: String) {
        self.keys.insert(
            id.to_owned(),
            AccessKey {
                secret: secret.to_owned(),
                principal: Principal::root(id, arn),
            },
        );
    }

    /// Keys not in the config are looked up here.
    pub fn with_credential_source(mut self, source: Arc<dyn CredentialSource>) -> Self {
        self.source = Some(source);
        self
    }

    /// True when no key is configured and only `test`/`test` exists: such a host must
    /// listen on loopback only.
    pub fn only_default_key(&self) -> bool {
        self.only_default
    }

    /// The region requests must be signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// Verifies against a fixed "now" instead of the system clock (tests).
    pub fn with_frozen_clock(mut self, now: OffsetDateTime) -> Self {
        self.clock = Clock::Frozen(now);
        self
    }

    fn now(&self) -> OffsetDateTime {
        match self.clock {
            Clock::System => OffsetDateTime::now_utc(),
            Clock::Frozen(t) => t,
        }
    }

    /// First step: the headers alone. Checks the `Authorization` header's form, the key,
    /// the credential scope (`signing_name` when the target is known) and the date.
    pub fn begin(
        &self,
        headers: &http::HeaderMap,
        signing_name: Option<&str>,
    ) -> Result<PendingAuth, ApiError> {
        let presented = Presented::parse(headers)?;
        let now = self.now();
        let (secret, principal) = match self.keys.get(&presented.access_key_id) {
            Some(key) => (key.secret.clone(), key.principal.clone()),
            None => {
                let found = self
                    .source
                    .as_ref()
                    .and_then(|s| s.credential(&presented.access_key_id))
                    .ok_or(SigError::UnknownKey)?;
                if !found.active {
                    return Err(SigError::InvalidToken.into());
                }
                let sent = headers
                    .get("x-amz-security-token")
                    .and_then(|v| v.to_str().ok());
                if sent != found.session_token.as_deref() {
                    return Err(SigError::InvalidToken.into());
                }
                if found.expires_at.is_some_and(|at| at <= now) {
                    return Err(SigError::Expired.into());
                }
                (found.secret_access_key, found.principal)
            }
        };
        presented.check_scope(&self.region, signing_name, now)?;
        Ok(PendingAuth {
            presented,
            secret,
            principal,
        })
    }
}

/// A request whose headers passed [`Auth::begin`]; the signature is checked with the body.
pub struct PendingAuth {
    presented: Presented,
    secret: String,
    principal: Principal,
}

impl fmt::Debug for PendingAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuth")
            .field("presented", &self.presented)
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl PendingAuth {
    /// Verifies the signature over the request and its body.
    pub fn finish(self, head: RequestHead<'_>, body: &[u8]) -> Result<Principal, ApiError> {
        self.presented.verify(&self.secret, head, body)?;
        Ok(self.principal)
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }
}

/// An authentication failure as the request's protocol answers it: the JSON services'
/// `UnrecognizedClientException` (400) and `ExpiredTokenException` (400) are
/// `InvalidClientTokenId` (403) and `ExpiredToken` (403) for query services (IAM, STS), as
/// AWS answers them.
pub fn auth_error_for(protocol: ProtocolKind, err: ApiError) -> ApiError {
    if protocol != ProtocolKind::AwsQuery {
        return err;
    }
    match err.code.as_str() {
        "UnrecognizedClientException" => {
            ApiError::with_status("InvalidClientTokenId", err.message, 403)
        }
        "ExpiredTokenException" => ApiError::with_status("ExpiredToken", err.message, 403),
        _ => err,
    }
}

fn default_principal(account: &str, key: &str) -> String {
    format!("arn:aws:iam::{account}:user/{key}")
}

fn check_region(region: &str) -> Result<(), AuthConfigError> {
    let ok = !region.is_empty()
        && region.len() <= 64
        && region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AuthConfigError::BadRegion(region.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ApiKeyConfig;

    fn key(id: &str, secret: &str, principal: Option<&str>) -> ApiKeyConfig {
        ApiKeyConfig {
            access_key_id: id.into(),
            secret_access_key: secret.into(),
            principal: principal.map(Into::into),
        }
    }

    #[test]
    fn default_key_only_without_configured_keys() {
        let a = Auth::from_config(&ApiConfig::default()).unwrap();
        assert!(a.only_default_key());
        assert_eq!(
            a.keys["test"].principal.arn,
            "arn:aws:iam::000000000000:user/test"
        );
        let cfg = ApiConfig {
            account_id: "123456789012".into(),
            keys: vec![
                key("AKID1", "s1", None),
                key("AKID2", "s2", Some("arn:aws:iam::123456789012:role/ops")),
            ],
            ..ApiConfig::default()
        };
        let a = Auth::from_config(&cfg).unwrap();
        assert!(!a.only_default_key());
        assert!(!a.keys.contains_key("test"));
        assert_eq!(
            a.keys["AKID1"].principal.arn,
            "arn:aws:iam::123456789012:user/AKID1"
        );
        assert_eq!(
            a.keys["AKID2"].principal.arn,
            "arn:aws:iam::123456789012:role/ops"
        );
        assert!(!format!("{:?}", a.keys["AKID1"]).contains("s1"));
    }

    #[test]
    fn bad_configs_are_refused_naming_the_setting() {
        let with = |keys: Vec<ApiKeyConfig>| {
            Auth::from_config(&ApiConfig {
                keys,
                ..ApiConfig::default()
            })
            .unwrap_err()
        };
        assert_eq!(with(vec![key("", "s", None)]), AuthConfigError::EmptyKeyId);
        assert_eq!(
            with(vec![key("a/b", "s", None)]),
            AuthConfigError::BadKeyId("a/b".into())
        );
        assert_eq!(
            with(vec![key("a", "", None)]),
            AuthConfigError::EmptySecret("a".into())
        );
        assert_eq!(
            with(vec![key("a", "s", None), key("a", "t", None)]),
            AuthConfigError::DuplicateKey("a".into())
        );
        assert!(matches!(
            with(vec![key("a", "s", Some("bob"))]),
            AuthConfigError::BadPrincipal { .. }
        ));
        let e = Auth::from_config(&ApiConfig {
            account_id: "12".into(),
            ..ApiConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("api.account_id"), "{e}");
        let e = Auth::from_config(&ApiConfig {
            region: "US East".into(),
            ..ApiConfig::default()
        })
        .unwrap_err();
        assert!(e.to_string().contains("api.region"), "{e}");
        assert!(
            with(vec![key("", "s", None)])
                .to_string()
                .contains("api.keys")
        );
    }

    /// The ECS vector of ecs-api.md §2 through `Auth` with a frozen clock, and the same
    /// request 16 minutes later.
    #[test]
    fn verifies_the_ecs_vector_with_a_frozen_clock() {
        let mut h = http::HeaderMap::new();
        for (k, v) in [
            ("host", "127.0.0.1:8080"),
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.CreateCluster",
            ),
            ("x-amz-date", "20240517T123456Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, \
                 SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
                 Signature=0b5df3b6d5f074cc0c42ef1b440e2012c7b06265c5ee5dcc0c0b47738e549c57",
            ),
        ] {
            h.insert(k, http::HeaderValue::from_static(v));
        }
        let (method, uri) = (http::Method::POST, http::Uri::from_static("/"));
        let head = RequestHead {
            method: &method,
            uri: &uri,
            headers: &h,
        };
        let body = br#"{"clusterName": "demo"}"#;
        let now = time::macros::datetime!(2024-05-17 12:40:00 UTC);
        let auth = Auth::from_config(&ApiConfig::default())
            .unwrap()
            .with_frozen_clock(now);
        let principal = auth
            .begin(&h, Some("ecs"))
            .unwrap()
            .finish(head, body)
            .unwrap();
        assert_eq!(principal.arn, "arn:aws:iam::000000000000:user/test");
        let e = auth
            .begin(&h, Some("ecs"))
            .unwrap()
            .finish(head, br#"{"clusterName": "other"}"#)
            .unwrap_err();
        assert_eq!(e.code, "InvalidSignatureException");
        let later = auth.with_frozen_clock(now + time::Duration::minutes(16));
        let e = later.begin(&h, Some("ecs")).unwrap_err();
        assert!(
            e.message.starts_with("Signature expired: 20240517T123456Z"),
            "{}",
            e.message
        );
    }

    #[test]
    fn begin_rejects_unknown_keys() {
        let a = Auth::from_config(&ApiConfig::default()).unwrap();
        let mut h = http::HeaderMap::new();
        h.insert("host", http::HeaderValue::from_static("x"));
        h.insert(
            "x-amz-date",
            http::HeaderValue::from_static("20240517T123456Z"),
        );
        h.insert(
            "authorization",
            http::HeaderValue::from_static(
                "AWS4-HMAC-SHA256 Credential=nobody/20240517/us-east-1/ecs/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=0b5df3b6d5f074cc0c42ef1b440e2012c7b06265c5ee5dcc0c0b47738e549c57",
            ),
        );
        let e = a.begin(&h, Some("ecs")).unwrap_err();
        assert_eq!(e.code, "UnrecognizedClientException");
        let e = a.begin(&http::HeaderMap::new(), Some("ecs")).unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.status),
            ("MissingAuthenticationTokenException", 403)
        );
    }
}
