//! Talking to one OCI registry over HTTP: the token handshake, manifests and blobs read under
//! size caps, pushes, bounded retries of transient failures, and errors a user can act on.
//!
//! Written on `reqwest` rather than through `oci-client`'s client, which sends Basic
//! credentials to whatever token `realm` a registry names and reads manifests, tokens and
//! error bodies whole, without a size limit. Here:
//! - Basic credentials go to the registry's own origin, or to a token realm on the same host
//!   and port, or to one the credential lists in `token_realms`; never elsewhere, never from
//!   HTTPS down to HTTP. Anonymous pulls follow any realm (they have nothing to leak).
//! - Redirects keep reqwest's rule: the `Authorization` header is dropped when a redirect
//!   leaves the origin (blob storage behind a registry gets no credentials).
//! - Every body is read with a cap: manifests (`[registry] max_manifest_kib`), blobs (the
//!   size their manifest declares, itself capped by `max_component_mib`), tokens and error
//!   bodies (small fixed caps).

use super::reference::ImageRef;
use super::{Credentials, PullError, PullProgress, Reporter};
use crate::config::Secret;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION, WWW_AUTHENTICATE};
use reqwest::{Response, StatusCode, Url};
use sha2::{Digest, Sha256};
use std::future::Future;
use std::path::Path;
use std::sync::{Once, OnceLock};
use std::time::Duration;
use tokio::io::AsyncWriteExt;

/// Media types of the CNCF "Wasm OCI artifact" layout (`wkg oci push`, `oras`).
pub const WASM_CONFIG_MEDIA_TYPE: &str = "application/vnd.wasm.config.v0+json";
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/wasm";
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI and Docker v2 image manifests (indexes are not components).
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";

/// First pause between two attempts; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
/// A token response is a small JSON object; anything bigger is not one.
const MAX_TOKEN_BYTES: u64 = 64 * 1024;
/// Error bodies are read this far for their message, no further.
const MAX_ERROR_BYTES: u64 = 16 * 1024;
/// A registry message quoted in a task's stopped reason is cut to this many characters.
const MAX_MESSAGE_CHARS: usize = 300;
const PROGRESS_STEP: u64 = 256 * 1024;
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait for the next bytes of a response: a stalled registry fails the pull.
const READ_TIMEOUT: Duration = Duration::from_secs(60);

/// What a request is for: a token's scope and the access it proves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Pull,
    Push,
}

/// The client every pull and push of the process shares (one connection pool).
pub(crate) fn http_client() -> Result<reqwest::Client, PullError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(c) = CLIENT.get() {
        return Ok(c.clone());
    }
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(READ_TIMEOUT)
        .user_agent(concat!("wasmgate/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| PullError::Registry {
            registry: "(all)".into(),
            message: format!("cannot set up the HTTP client: {}", error_chain(&e)),
        })?;
    Ok(CLIENT.get_or_init(|| client).clone())
}

fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // Another part of the process may have installed one already: that one is kept.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// How requests to the registry authenticate, decided once per `Registry`.
enum Auth {
    None,
    Basic { username: String, password: Secret },
    Bearer(Secret),
}

/// Why one attempt failed; `retry` decides whether to try again, then turns it into a
/// `PullError`.
pub(crate) enum Fail {
    Net(reqwest::Error),
    Status { code: u16, body: Vec<u8> },
    Fatal(PullError),
}

impl From<PullError> for Fail {
    fn from(e: PullError) -> Self {
        Fail::Fatal(e)
    }
}

/// One registry and repository, as seen with one set of credentials.
pub(crate) struct Registry {
    http: reqwest::Client,
    /// The registry as written in the reference (`localhost:5000`, `docker.io`).
    pub name: String,
    /// `http://host:port/` or `https://host/`: where requests go.
    base: Url,
    repository: String,
    credentials: Credentials,
    op: Op,
    auth: tokio::sync::OnceCell<Auth>,
    max_attempts: u32,
    max_manifest_bytes: u64,
}

impl Registry {
    pub fn new(
        reference: &ImageRef,
        credentials: &Credentials,
        config: &crate::config::RegistryConfig,
        op: Op,
    ) -> Result<Self, PullError> {
        let name = reference.registry().to_owned();
        let plain = reference.is_loopback()
            || config
                .insecure
                .iter()
                .any(|r| r.eq_ignore_ascii_case(&name));
        let scheme = if plain { "http" } else { "https" };
        let base =
            Url::parse(&format!("{scheme}://{}/", reference.resolved_registry())).map_err(|e| {
                PullError::Registry {
                    registry: name.clone(),
                    message: format!("not a usable host: {e}"),
                }
            })?;
        Ok(Self {
            http: http_client()?,
            name,
            base,
            repository: reference.repository().to_owned(),
            credentials: credentials.clone(),
            op,
            auth: tokio::sync::OnceCell::new(),
            max_attempts: config.max_attempts.max(1),
            max_manifest_bytes: config.max_manifest_kib.saturating_mul(1024),
        })
    }

    fn url(&self, path: &str) -> Result<Url, Fail> {
        self.base.join(path).map_err(|e| {
            Fail::Fatal(PullError::Registry {
                registry: self.name.clone(),
                message: format!("cannot build a URL for {path:?}: {e}"),
            })
        })
    }

    fn repo_url(&self, kind: &str, reference: &str) -> Result<Url, Fail> {
        self.url(&format!("v2/{}/{kind}/{reference}", self.repository))
    }

    /// The way requests authenticate: probes `/v2/` once and, where the registry asks for a
    /// bearer token, fetches one (see the module comment for where credentials may go).
    async fn auth(&self, what: &str) -> Result<&Auth, PullError> {
        self.auth
            .get_or_try_init(|| self.retry(what, || self.login()))
            .await
    }

    async fn login(&self) -> Result<Auth, Fail> {
        let resp = self
            .http
            .get(self.url("v2/")?)
            .send()
            .await
            .map_err(Fail::Net)?;
        let status = resp.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(status_fail(resp).await);
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(Challenge::parse);
        drop(resp);
        match challenge {
            Some(Challenge::Bearer { realm, service }) if status == StatusCode::UNAUTHORIZED => {
                let token = self.token(&realm, service.as_deref()).await?;
                Ok(Auth::Bearer(token))
            }
            _ => Ok(match &self.credentials {
                Credentials::Anonymous => Auth::None,
                Credentials::Basic {
                    username, password, ..
                } => Auth::Basic {
                    username: username.clone(),
                    password: password.clone(),
                },
            }),
        }
    }

    /// The token exchange of the distribution spec, with the realm checked first.
    async fn token(&self, realm: &str, service: Option<&str>) -> Result<Secret, Fail> {
        let url = Url::parse(realm)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
        let Some(url) = url else {
            return Err(Fail::Fatal(PullError::Registry {
                registry: self.name.clone(),
                message: format!("the token realm {:?} is not an http(s) URL", clip(realm)),
            }));
        };
        let shown = format!("{}://{}{}", url.scheme(), authority(&url), clip(url.path()));
        let basic = match &self.credentials {
            Credentials::Anonymous => None,
            Credentials::Basic {
                username,
                password,
                from,
                token_realms,
            } => {
                self.check_realm(&url, &shown, from, token_realms)?;
                Some((username, password))
            }
        };
        let scope = format!(
            "repository:{}:{}",
            self.repository,
            match self.op {
                Op::Pull => "pull",
                Op::Push => "pull,push",
            }
        );
        let mut query = vec![("scope", scope.as_str())];
        if let Some(s) = service {
            query.push(("service", s));
        }
        let mut rb = self.http.get(url).query(&query);
        if let Some((u, p)) = basic {
            rb = rb.basic_auth(u, Some(p.expose()));
        }
        let mut resp = rb.send().await.map_err(Fail::Net)?;
        let status = resp.status();
        if status.is_server_error() || status == StatusCode::TOO_MANY_REQUESTS {
            return Err(status_fail(resp).await);
        }
        // The realm's answers are not quoted back: it may be any URL a registry names.
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Fail::Fatal(PullError::AuthRefused {
                registry: self.name.clone(),
                reference: format!("{}/{}", self.name, self.repository),
                detail: format!(
                    "the token service {shown} answered HTTP {}",
                    status.as_u16()
                ),
            }));
        }
        let bad = |why: &str| {
            Fail::Fatal(PullError::Registry {
                registry: self.name.clone(),
                message: format!("the token service {shown} {why}"),
            })
        };
        if !status.is_success() {
            return Err(bad(&format!("answered HTTP {}", status.as_u16())));
        }
        let body = read_capped(&mut resp, MAX_TOKEN_BYTES)
            .await
            .map_err(Fail::Net)?
            .ok_or_else(|| bad(&format!("sent more than {MAX_TOKEN_BYTES} bytes")))?;
        #[derive(serde::Deserialize)]
        struct Token {
            token: Option<String>,
            access_token: Option<String>,
        }
        let t: Token =
            serde_json::from_slice(&body).map_err(|_| bad("did not answer with a token"))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty())
            .map(Secret::new)
            .ok_or_else(|| bad("did not answer with a token"))
    }

    /// Basic credentials may go to a realm on the registry's own host and port, or to one the
    /// credential lists in `token_realms`; never from an HTTPS registry to a plain-HTTP realm.
    fn check_realm(
        &self,
        realm: &Url,
        shown: &str,
        from: &str,
        token_realms: &[String],
    ) -> Result<(), Fail> {
        let refuse = |why: String| {
            Fail::Fatal(PullError::RealmRefused {
                registry: self.name.clone(),
                from: from.to_owned(),
                realm: shown.to_owned(),
                why,
            })
        };
        if self.base.scheme() == "https" && realm.scheme() != "https" {
            return Err(refuse("over plain HTTP from an HTTPS registry".into()));
        }
        if same_host_port(&self.base, realm) || host_listed(realm, token_realms) {
            return Ok(());
        }
        Err(refuse(format!(
            "on another host than the registry ({}); to trust it, add \"{}\" to the \
             token_realms of {from}",
            authority(&self.base),
            authority(realm)
        )))
    }

    fn authorize(&self, rb: reqwest::RequestBuilder, auth: &Auth) -> reqwest::RequestBuilder {
        match auth {
            Auth::None => rb,
            Auth::Basic { username, password } => rb.basic_auth(username, Some(password.expose())),
            Auth::Bearer(token) => rb.bearer_auth(token.expose()),
        }
    }

    /// Sends a request to the registry with its authentication; non-2xx is a `Fail`.
    async fn send(
        &self,
        auth: &Auth,
        build: impl FnOnce(&reqwest::Client) -> reqwest::RequestBuilder,
    ) -> Result<Response, Fail> {
        let resp = self
            .authorize(build(&self.http), auth)
            .send()
            .await
            .map_err(Fail::Net)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(status_fail(resp).await)
        }
    }

    /// Runs `f` until it succeeds, fails for good, or `max_attempts` transient failures;
    /// `what` names the image in the error.
    pub async fn retry<T, F, Fut>(&self, what: &str, mut f: F) -> Result<T, PullError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, Fail>>,
    {
        let mut pause = FIRST_BACKOFF;
        let mut attempt = 1;
        loop {
            match f().await {
                Ok(v) => return Ok(v),
                Err(e) if is_transient(&e) && attempt < self.max_attempts => {
                    tracing::debug!(
                        "registry {}: attempt {attempt} failed; retrying in {pause:?}",
                        self.name
                    );
                    tokio::time::sleep(pause).await;
                    pause *= 2;
                    attempt += 1;
                }
                Err(e) => return Err(classify(e, what, &self.name, attempt)),
            }
        }
    }

    /// The digest the registry serves `reference` (a tag or a digest) as, asked with the
    /// caller's credentials: resolves tags, and proves access to a cached digest.
    pub async fn manifest_digest(&self, reference: &ImageRef) -> Result<String, PullError> {
        let what = reference.to_string();
        let auth = self.auth(&what).await?;
        let tag_or_digest = reference
            .digest()
            .or(reference.tag())
            .unwrap_or("latest")
            .to_owned();
        let url = self
            .repo_url("manifests", &tag_or_digest)
            .map_err(|f| classify(f, &what, &self.name, 1))?;
        let digest = self
            .retry(&what, || async {
                let resp = self
                    .send(auth, |c| {
                        c.head(url.clone()).header(ACCEPT, MANIFEST_ACCEPT)
                    })
                    .await?;
                match header_digest(resp.headers()) {
                    Some(d) => Ok(d),
                    // No Docker-Content-Digest: the digest of the manifest itself.
                    None => {
                        let raw = self.read_manifest(auth, &url, &what).await?;
                        Ok(format!("sha256:{}", hex::encode(Sha256::digest(&raw))))
                    }
                }
            })
            .await?;
        if let Some(pinned) = reference.digest()
            && pinned != digest
        {
            return Err(PullError::DigestMismatch {
                what: what.clone(),
                detail: format!("the registry serves it as {digest}"),
            });
        }
        Ok(digest)
    }

    /// The manifest `pinned` names, read up to `[registry] max_manifest_kib`.
    pub async fn manifest(&self, pinned: &ImageRef, digest: &str) -> Result<Vec<u8>, PullError> {
        let what = pinned.to_string();
        let auth = self.auth(&what).await?;
        let url = self
            .repo_url("manifests", digest)
            .map_err(|f| classify(f, &what, &self.name, 1))?;
        self.retry(&what, || self.read_manifest(auth, &url, &what))
            .await
    }

    async fn read_manifest(&self, auth: &Auth, url: &Url, what: &str) -> Result<Vec<u8>, Fail> {
        let mut resp = self
            .send(auth, |c| c.get(url.clone()).header(ACCEPT, MANIFEST_ACCEPT))
            .await?;
        let too_large = || {
            Fail::Fatal(PullError::TooLarge {
                what: format!("the manifest of {what}"),
                detail: format!(
                    "more than the {} KiB limit ([registry] max_manifest_kib)",
                    self.max_manifest_bytes / 1024
                ),
            })
        };
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_manifest_bytes)
        {
            return Err(too_large());
        }
        read_capped(&mut resp, self.max_manifest_bytes)
            .await
            .map_err(Fail::Net)?
            .ok_or_else(too_large)
    }

    /// Streams the blob `digest` of `pinned` into `tmp`, which ends up holding exactly
    /// `size` bytes with that sha256, or the pull fails (the caller deletes `tmp`).
    pub async fn blob(
        &self,
        pinned: &ImageRef,
        digest: &str,
        size: u64,
        tmp: &Path,
        fetches: &std::sync::atomic::AtomicU64,
        report: Reporter<'_>,
    ) -> Result<(), PullError> {
        let what = format!("layer {digest} of {pinned}");
        let auth = self.auth(&what).await?;
        let url = self
            .repo_url("blobs", digest)
            .map_err(|f| classify(f, &what, &self.name, 1))?;
        let too_much = || {
            Fail::Fatal(PullError::TooLarge {
                what: what.clone(),
                detail: format!(
                    "the registry sends more than the {size} bytes its manifest declares"
                ),
            })
        };
        self.retry(&what, || async {
            fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let mut resp = self.send(auth, |c| c.get(url.clone())).await?;
            if resp.content_length().is_some_and(|n| n > size) {
                return Err(too_much());
            }
            let store = |source| {
                Fail::Fatal(PullError::Store {
                    path: tmp.to_owned(),
                    source,
                })
            };
            let mut file = tokio::fs::File::create(tmp).await.map_err(store)?;
            let mut hasher = Sha256::new();
            let mut done: u64 = 0;
            while let Some(chunk) = resp.chunk().await.map_err(Fail::Net)? {
                let before = done;
                done += chunk.len() as u64;
                if done > size {
                    return Err(too_much());
                }
                hasher.update(&chunk);
                file.write_all(&chunk).await.map_err(store)?;
                // Every 256 KiB and at the end: enough for a bar, few events.
                if done / PROGRESS_STEP != before / PROGRESS_STEP || done == size {
                    report(PullProgress::Bytes { done, total: size });
                }
            }
            file.flush().await.map_err(store)?;
            let actual = format!("sha256:{}", hex::encode(hasher.finalize()));
            if done != size || actual != digest {
                return Err(Fail::Fatal(PullError::DigestMismatch {
                    what: what.clone(),
                    detail: format!("received {done} bytes with digest {actual}"),
                }));
            }
            Ok(())
        })
        .await
    }

    /// True when the repository already holds blob `digest` (a push skips it).
    pub async fn has_blob(&self, reference: &ImageRef, digest: &str) -> Result<bool, PullError> {
        let what = reference.to_string();
        let auth = self.auth(&what).await?;
        let url = self
            .repo_url("blobs", digest)
            .map_err(|f| classify(f, &what, &self.name, 1))?;
        self.retry(&what, || async {
            match self.send(auth, |c| c.head(url.clone())).await {
                Ok(_) => Ok(true),
                Err(Fail::Status { code: 404, .. }) => Ok(false),
                Err(e) => Err(e),
            }
        })
        .await
    }

    /// Uploads one blob in a single request (`POST` a session, `PUT` its bytes).
    pub async fn upload_blob(
        &self,
        reference: &ImageRef,
        digest: &str,
        bytes: bytes::Bytes,
    ) -> Result<(), PullError> {
        let what = reference.to_string();
        let auth = self.auth(&what).await?;
        let start = self
            .url(&format!("v2/{}/blobs/uploads/", self.repository))
            .map_err(|f| classify(f, &what, &self.name, 1))?;
        self.retry(&what, || async {
            let resp = self.send(auth, |c| c.post(start.clone())).await?;
            let location = resp
                .headers()
                .get(LOCATION)
                .and_then(|v| v.to_str().ok())
                .and_then(|l| start.join(l).ok())
                .ok_or_else(|| {
                    Fail::Fatal(PullError::Registry {
                        registry: self.name.clone(),
                        message: "an upload session came without a usable Location".into(),
                    })
                })?;
            let mut put = location;
            put.query_pairs_mut().append_pair("digest", digest);
            // The upload URL may point elsewhere (storage behind the registry): credentials
            // go only to the registry's own origin.
            let own = same_origin(&self.base, &put);
            let rb = self
                .http
                .put(put)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(bytes.clone());
            let rb = if own { self.authorize(rb, auth) } else { rb };
            let resp = rb.send().await.map_err(Fail::Net)?;
            if resp.status().is_success() {
                Ok(())
            } else {
                Err(status_fail(resp).await)
            }
        })
        .await
    }

    /// Stores `manifest` under the reference's tag; returns the digest the registry reports.
    pub async fn put_manifest(
        &self,
        reference: &ImageRef,
        manifest: bytes::Bytes,
        media_type: &str,
    ) -> Result<Option<String>, PullError> {
        let what = reference.to_string();
        let auth = self.auth(&what).await?;
        let tag = reference.tag().unwrap_or("latest");
        let url = self
            .repo_url("manifests", tag)
            .map_err(|f| classify(f, &what, &self.name, 1))?;
        self.retry(&what, || async {
            let resp = self
                .send(auth, |c| {
                    c.put(url.clone())
                        .header(CONTENT_TYPE, media_type)
                        .body(manifest.clone())
                })
                .await?;
            Ok(header_digest(resp.headers()))
        })
        .await
    }
}

/// Reads at most `cap` bytes of `resp`'s body; `None` when it is longer.
async fn read_capped(resp: &mut Response, cap: u64) -> Result<Option<Vec<u8>>, reqwest::Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await? {
        if out.len() as u64 + chunk.len() as u64 > cap {
            return Ok(None);
        }
        out.extend_from_slice(&chunk);
    }
    Ok(Some(out))
}

/// A non-2xx answer with the start of its body (for the registry's message).
async fn status_fail(mut resp: Response) -> Fail {
    let code = resp.status().as_u16();
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        let room = (MAX_ERROR_BYTES as usize).saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() as u64 >= MAX_ERROR_BYTES {
            break;
        }
    }
    Fail::Status { code, body }
}

/// `Docker-Content-Digest` when it is a well-formed sha256 digest.
fn header_digest(headers: &HeaderMap) -> Option<String> {
    headers
        .get("docker-content-digest")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|d| {
            d.strip_prefix("sha256:")
                .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        })
        .map(str::to_ascii_lowercase)
}

/// `host[:port]` of a URL, with the port only when it is not the scheme's default.
fn authority(url: &Url) -> String {
    let host = url.host_str().unwrap_or_default();
    match url.port() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_owned(),
    }
}

fn same_host_port(a: &Url, b: &Url) -> bool {
    a.host_str()
        .zip(b.host_str())
        .is_some_and(|(x, y)| x.eq_ignore_ascii_case(y))
        && a.port_or_known_default() == b.port_or_known_default()
}

fn same_origin(a: &Url, b: &Url) -> bool {
    a.scheme() == b.scheme() && same_host_port(a, b)
}

/// True when `realm`'s host and port match an entry of `hosts` (`host` means the scheme's
/// default port).
fn host_listed(realm: &Url, hosts: &[String]) -> bool {
    let (Some(host), Some(port)) = (realm.host_str(), realm.port_or_known_default()) else {
        return false;
    };
    hosts.iter().any(|entry| {
        let (h, p) = match entry.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(':') && p.bytes().all(|b| b.is_ascii_digit()) => {
                (h, p.parse::<u16>().ok())
            }
            _ => (entry.as_str(), None),
        };
        // `host` alone means the scheme's default port, which `Url::port` leaves out.
        h.eq_ignore_ascii_case(host)
            && match p {
                Some(p) => p == port,
                None => realm.port().is_none(),
            }
    })
}

/// A parsed `WWW-Authenticate` header: the scheme and the parameters a client uses.
#[derive(Debug, PartialEq, Eq)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

impl Challenge {
    /// `Bearer realm="https://auth.example.com/token",service="registry.example.com"`.
    fn parse(header: &str) -> Option<Self> {
        let header = header.trim();
        let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return Some(Challenge::Basic);
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            return None;
        }
        let params = auth_params(rest);
        let get = |k: &str| {
            params
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(k))
                .map(|(_, v)| v.clone())
        };
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
        })
    }
}

/// `k=v, k="quoted \" value"` pairs (RFC 7235 auth-params).
fn auth_params(s: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ','))
            .collect::<String>()
            .trim()
            .to_owned();
        if key.is_empty() || chars.next() != Some('=') {
            return out;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value = std::iter::from_fn(|| chars.next_if(|c| *c != ','))
                .collect::<String>()
                .trim()
                .to_owned();
        }
        out.push((key, value));
    }
}

/// Connection failures, timeouts, 5xx and 429 are worth another try; nothing else is.
fn is_transient(e: &Fail) -> bool {
    match e {
        Fail::Net(e) => e.is_connect() || e.is_timeout() || e.is_request() || e.is_body(),
        Fail::Status { code, .. } => *code >= 500 || *code == 429,
        Fail::Fatal(_) => false,
    }
}

/// The registry's error envelope (`{"errors":[{"code":…,"message":…}]}`), as text.
fn envelope(body: &[u8]) -> Option<(Vec<String>, String)> {
    #[derive(serde::Deserialize)]
    struct Envelope {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        #[serde(default)]
        code: String,
        #[serde(default)]
        message: String,
    }
    let e: Envelope = serde_json::from_slice(body).ok()?;
    let codes = e
        .errors
        .iter()
        .map(|e| e.code.to_ascii_uppercase())
        .collect();
    let text = e
        .errors
        .iter()
        .map(|e| format!("{}: {}", e.code, e.message))
        .collect::<Vec<_>>()
        .join("; ");
    Some((codes, text))
}

/// A failure as the user should read it. Never carries credentials: requests carry them in
/// headers only, and the messages quote URLs and registry messages.
pub(crate) fn classify(e: Fail, what: &str, registry: &str, attempts: u32) -> PullError {
    match e {
        Fail::Fatal(e) => e,
        Fail::Net(e) if e.is_connect() || e.is_timeout() => PullError::Unreachable {
            registry: registry.to_owned(),
            attempts,
            message: error_chain(&e),
        },
        Fail::Net(e) => PullError::Registry {
            registry: registry.to_owned(),
            message: error_chain(&e),
        },
        Fail::Status { code, body } => {
            let (codes, text) = envelope(&body).unwrap_or_default();
            let detail = if text.is_empty() {
                format!("HTTP {code}")
            } else {
                clip(&text)
            };
            let any = |names: &[&str]| codes.iter().any(|c| names.contains(&c.as_str()));
            if code == 401 || code == 403 || any(&["UNAUTHORIZED", "DENIED"]) {
                PullError::AuthRefused {
                    registry: registry.to_owned(),
                    reference: what.to_owned(),
                    detail,
                }
            } else if code == 404
                || any(&[
                    "MANIFEST_UNKNOWN",
                    "NAME_UNKNOWN",
                    "BLOB_UNKNOWN",
                    "NOT_FOUND",
                ])
            {
                PullError::NotFound {
                    reference: what.to_owned(),
                    detail,
                }
            } else {
                PullError::Registry {
                    registry: registry.to_owned(),
                    message: if text.is_empty() {
                        detail
                    } else {
                        format!("HTTP {code}: {detail}")
                    },
                }
            }
        }
    }
}

/// At most `MAX_MESSAGE_CHARS` characters of `s`, control characters replaced: text a
/// registry chose ends up in a task's stopped reason.
fn clip(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(MAX_MESSAGE_CHARS)
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if s.chars().count() > MAX_MESSAGE_CHARS {
        out.push('…');
    }
    out
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let m = c.to_string();
        if !s.contains(&m) {
            s.push_str(": ");
            s.push_str(&m);
        }
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_parse() {
        assert_eq!(
            Challenge::parse(
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:x:pull""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"bearer realm=http://h/t , service = "a\"b""#),
            Some(Challenge::Bearer {
                realm: "http://h/t".into(),
                service: Some("a\"b".into()),
            })
        );
        assert_eq!(
            Challenge::parse(r#"Basic realm="registry""#),
            Some(Challenge::Basic)
        );
        assert_eq!(Challenge::parse("Bearer service=x"), None);
        assert_eq!(Challenge::parse("Negotiate"), None);
        assert_eq!(Challenge::parse(""), None);
    }

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn realms_on_the_registry_origin_or_listed_may_receive_credentials() {
        let reg = url("https://registry.example.com/");
        assert!(same_host_port(
            &reg,
            &url("https://REGISTRY.example.com:443/token")
        ));
        assert!(!same_host_port(
            &reg,
            &url("https://registry.example.com:8443/t")
        ));
        assert!(!same_host_port(&reg, &url("https://evil.example.com/t")));
        let listed = ["auth.example.com".to_owned(), "127.0.0.1:5001".to_owned()];
        assert!(host_listed(&url("https://auth.example.com/token"), &listed));
        assert!(!host_listed(
            &url("https://auth.example.com:444/token"),
            &listed
        ));
        assert!(host_listed(&url("http://127.0.0.1:5001/token"), &listed));
        assert!(!host_listed(&url("http://127.0.0.1:5002/token"), &listed));
        assert!(!host_listed(&url("https://evil.example.com/"), &listed));
        assert!(host_listed(
            &url("http://[::1]:7/t"),
            &["[::1]:7".to_owned()]
        ));
    }

    #[test]
    fn registry_errors_read_as_user_errors() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
        let e = classify(
            Fail::Status {
                code: 404,
                body: body.to_vec(),
            },
            "r/x:1",
            "r",
            1,
        );
        assert!(matches!(e, PullError::NotFound { .. }), "{e}");
        assert!(e.to_string().contains("manifest unknown"), "{e}");
        let e = classify(
            Fail::Status {
                code: 401,
                body: vec![],
            },
            "r/x:1",
            "r",
            1,
        );
        assert!(e.to_string().contains("refused"), "{e}");
        let long = format!(
            "{{\"errors\":[{{\"code\":\"X\",\"message\":\"{}\"}}]}}",
            "a".repeat(5000)
        );
        let e = classify(
            Fail::Status {
                code: 400,
                body: long.into_bytes(),
            },
            "r/x:1",
            "r",
            1,
        );
        assert!(e.to_string().len() < 600, "{e}");
    }
}
