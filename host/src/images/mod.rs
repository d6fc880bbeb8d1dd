//! Images from OCI registries: references, pulls, pushes and the content-addressed store.
//!
//! Layout under `<data-dir>/images/`:
//! - `blobs/sha256/<hex>`: component bytes, named by their digest and verified (size and
//!   sha256) every time a task uses them; a damaged one is deleted and fetched again.
//! - `repos/<registry>/<repository>/_manifests/<hex>`: manifests by digest, per repository.
//! - `repos/<registry>/<repository>/_blobs/<hex>`: empty marks: this repository served this
//!   blob (its bytes came from there and were verified).
//! - `tmp/`: downloads in progress, renamed into place once verified.
//!
//! Who may run what is in the store: a digest is not a password. The blob bytes are shared by
//! every repository that serves them, but a repository uses a stored blob only once it has
//! served the blob itself, so naming another tenant's digest under a registry of one's own
//! gets nothing. And every task start asks the registry, with the task's own credentials,
//! for the manifest (a `HEAD` when it is stored, the resolution of a tag otherwise), as
//! Kubernetes' `AlwaysPullImages` does; `[registry] trust_cache` skips that for digest-pinned
//! images already stored for the same repository (air-gapped hosts), at the price of letting
//! anyone on the host run them.
//!
//! Tags are resolved to a manifest digest at every task start; the digest is what runs. Pulls
//! of one digest are coalesced (the second waits for the first and finds the blob in place).
//! Blobs are touched on every use; past `[registry] cache_max_mib` the least recently used
//! blobs that no running task holds (see `ImageLease`) are evicted, and every registered
//! [`EvictionHook`] hears of it (the runtime drops what it compiled from the blob). Nothing
//! here knows about tasks, compiled artifacts or the ECS API.

pub mod reference;
pub(crate) mod registry;

pub use reference::{ImageRef, ReferenceError, is_loopback_registry};
pub use registry::{WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};

use crate::config::{HostConfig, RegistryConfig, Secret};
use crate::util::sync::{lock, read, write};
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use registry::{Op, Registry};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Instant, SystemTime};

/// Why an image could not be pulled; the task stops with `CannotPullContainerError: <this>`.
#[derive(Debug, thiserror::Error)]
pub enum PullError {
    #[error("{reference}: not found in the registry ({detail})")]
    NotFound { reference: String, detail: String },
    #[error("registry {registry} refused access to {reference}: {detail}")]
    AuthRefused {
        registry: String,
        reference: String,
        detail: String,
    },
    #[error("registry {registry} is unreachable (gave up after {attempts} attempts): {message}")]
    Unreachable {
        registry: String,
        attempts: u32,
        message: String,
    },
    #[error("digest mismatch for {what}: {detail}")]
    DigestMismatch { what: String, detail: String },
    #[error("{reference} is not a Wasm component artifact: {detail}")]
    NotWasm { reference: String, detail: String },
    #[error("{what} is too large: {detail}")]
    TooLarge { what: String, detail: String },
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("registry credentials: {0}")]
    Credentials(String),
    #[error("registry credentials: secret {name} is not allowed for registry {registry}: {why}")]
    SecretNotAllowed {
        name: String,
        registry: String,
        why: String,
    },
    #[error(
        "registry {registry} asks for the credentials of {from} to be sent to the token \
         service {realm}, {why}; they were not sent"
    )]
    RealmRefused {
        registry: String,
        from: String,
        realm: String,
        why: String,
    },
    #[error("image store {path}: {source}")]
    Store {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read {path}: {source}")]
    Input {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Credentials for one registry. The password never appears in `Debug` output.
#[derive(Debug, Clone)]
pub enum Credentials {
    Anonymous,
    Basic {
        username: String,
        password: Secret,
        /// Where they come from, for messages: `secret team-registry`.
        from: String,
        /// Token services on other hosts the registry may send them to (`host[:port]`).
        token_realms: Vec<String>,
    },
}

/// The credentials a pull from (or push to) `registry` uses: the container's
/// `repositoryCredentials` secret when it names one (it must exist and be bound to
/// `registry`), else the host's `[[registry.auths]]` entry for the registry, else none.
pub fn credentials(
    config: &HostConfig,
    registry: &str,
    credentials_parameter: Option<&str>,
) -> Result<Credentials, PullError> {
    if let Some(name) = credentials_parameter {
        let secret = config.secrets.get(name).ok_or_else(|| {
            PullError::Credentials(format!(
                "repositoryCredentials.credentialsParameter {name:?} is not in the host's secret store"
            ))
        })?;
        if !secret.allows_registry(registry) {
            return Err(PullError::SecretNotAllowed {
                name: name.to_owned(),
                registry: registry.to_owned(),
                why: if secret.registries.is_empty() {
                    format!(
                        "it is bound to no registry; the host's operator can bind it with \
                         [secrets.{name}] value = \"…\", registries = [\"{registry}\"]"
                    )
                } else {
                    format!(
                        "it may only be sent to {}",
                        secret
                            .registries
                            .iter()
                            .map(|r| format!("{r:?}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
            });
        }
        let (username, password) = parse_secret(name, secret.expose())?;
        return Ok(Credentials::Basic {
            username,
            password,
            from: format!("secret {name}"),
            token_realms: secret.token_realms.clone(),
        });
    }
    Ok(config
        .registry
        .auths
        .iter()
        .find(|a| a.registry.eq_ignore_ascii_case(registry))
        .map_or(Credentials::Anonymous, |a| Credentials::Basic {
            username: a.username.clone(),
            password: a.password.clone(),
            from: format!("the [[registry.auths]] entry for {}", a.registry),
            token_realms: a.token_realms.clone(),
        }))
}

/// A secret is `username:password` or `{"username": …, "password": …}` (as ECS stores it).
/// Registry credentials from a secret's value read elsewhere (a Secrets Manager secret that
/// a container's `repositoryCredentials` names by ARN, read as the execution role):
/// `{"username":…,"password":…}` or `username:password`; `from` names it in messages.
pub fn credentials_from_value(from: &str, value: &str) -> Result<Credentials, PullError> {
    let (username, password) = parse_secret(from, value)?;
    Ok(Credentials::Basic {
        username,
        password,
        from: format!("secret {from}"),
        token_realms: Vec::new(),
    })
}

fn parse_secret(name: &str, value: &str) -> Result<(String, Secret), PullError> {
    #[derive(serde::Deserialize)]
    struct Json {
        username: String,
        password: String,
    }
    let bad = || {
        PullError::Credentials(format!(
            "secret {name:?} is neither \"username:password\" nor {{\"username\":…,\"password\":…}}"
        ))
    };
    let (username, password) = if value.trim_start().starts_with('{') {
        let j: Json = serde_json::from_str(value).map_err(|_| bad())?;
        (j.username, j.password)
    } else {
        let (u, p) = value.split_once(':').ok_or_else(bad)?;
        (u.to_owned(), p.to_owned())
    };
    Ok((username, Secret::new(password)))
}

/// What a pull reports as it goes.
#[derive(Debug, Clone)]
pub enum PullProgress {
    /// A message for the task's events (resolved, fetching, damaged entry, done).
    Notice(String),
    /// Bytes of the component blob fetched so far.
    Bytes { done: u64, total: u64 },
}

pub type Reporter<'a> = &'a (dyn Fn(PullProgress) + Send + Sync);

/// An image ready to run.
#[derive(Debug)]
pub struct PulledImage {
    /// `sha256:<hex>` of the manifest: the image digest ECS reports.
    pub manifest_digest: String,
    /// `sha256:<hex>` of the component layer.
    pub layer_digest: String,
    /// The verified component file.
    pub path: PathBuf,
    pub size: u64,
    /// True when the blob came over the network in this pull.
    pub fetched: bool,
    /// Keeps the blob from eviction while the task that pulled it runs.
    pub lease: ImageLease,
}

/// Holds a blob in the store; dropping it lets eviction consider the blob again.
#[derive(Debug)]
pub struct ImageLease {
    inner: Arc<Inner>,
    hex: String,
}

impl Drop for ImageLease {
    fn drop(&mut self) {
        let mut in_use = lock(&self.inner.in_use);
        if let Some(n) = in_use.get_mut(&self.hex) {
            *n -= 1;
            if *n == 0 {
                in_use.remove(&self.hex);
            }
        }
    }
}

/// Told of each blob the store evicts, so that what others derived from it goes too.
pub trait EvictionHook: Send + Sync {
    /// `sha256_hex`: the evicted blob's digest, hex without the `sha256:` prefix.
    fn evicted(&self, sha256_hex: &str);
}

#[derive(Default)]
struct Hooks(RwLock<Vec<Arc<dyn EvictionHook>>>);

impl std::fmt::Debug for Hooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} eviction hook(s)", read(&self.0).len())
    }
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    on_evict: Hooks,
    config: RegistryConfig,
    in_use: Mutex<HashMap<String, usize>>,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    fetches: AtomicU64,
}

/// What the store records for one registry repository: `repos/<registry>/<repository>/`.
/// Its own subdirectories start with `_`, which no repository path component can.
struct RepoDir(PathBuf);

impl RepoDir {
    fn new(images: &Path, reference: &ImageRef) -> Result<Self, PullError> {
        let registry = reference.registry().to_ascii_lowercase();
        let mut dir = images.join("repos");
        for part in std::iter::once(registry.as_str()).chain(reference.repository().split('/')) {
            if !is_path_component(part) {
                return Err(PullError::Registry {
                    registry: reference.registry().to_owned(),
                    message: format!("{reference} cannot be stored: {part:?} is not a usable name"),
                });
            }
            dir.push(part);
        }
        Ok(Self(dir))
    }

    fn manifest(&self, hex: &str) -> PathBuf {
        self.0.join("_manifests").join(hex)
    }

    fn served_blob(&self, hex: &str) -> PathBuf {
        self.0.join("_blobs").join(hex)
    }
}

/// A registry or repository part is a safe directory name: the reference grammar allows
/// only these characters, and `.`/`..`/`_…` never pass.
fn is_path_component(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s.starts_with('_')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:[]".contains(&b))
}

/// The content-addressed image store shared by every task of the host.
#[derive(Debug, Clone)]
pub struct ImageStore {
    inner: Arc<Inner>,
}

impl ImageStore {
    pub fn new(dir: PathBuf, config: RegistryConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                on_evict: Hooks::default(),
                config,
                in_use: Mutex::default(),
                inflight: Mutex::default(),
                fetches: AtomicU64::new(0),
            }),
        }
    }

    /// Calls `hook` with the digest of every blob evicted from now on.
    pub fn register_eviction_hook(&self, hook: Arc<dyn EvictionHook>) {
        write(&self.inner.on_evict.0).push(hook);
    }

    /// Blobs fetched over the network since the store was created (coalescing shows here).
    pub fn fetch_count(&self) -> u64 {
        self.inner.fetches.load(Ordering::Relaxed)
    }

    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    fn blob_path(&self, hex: &str) -> PathBuf {
        self.inner.dir.join("blobs").join("sha256").join(hex)
    }

    fn store_err(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
        move |source| PullError::Store {
            path: path.to_owned(),
            source,
        }
    }

    /// Resolves `reference` to a digest, proves with `credentials` that the registry serves
    /// it, and makes its component available locally.
    pub async fn pull(
        &self,
        reference: &ImageRef,
        credentials: &Credentials,
        report: Reporter<'_>,
    ) -> Result<PulledImage, PullError> {
        let cfg = &self.inner.config;
        let repo = RepoDir::new(&self.inner.dir, reference)?;
        let reg = Registry::new(reference, credentials, cfg, Op::Pull)?;
        // A tag's resolution is asked with the caller's credentials: it proves access.
        let (manifest_digest, access_proven) = match reference.digest() {
            Some(d) => (d.to_owned(), false),
            None => {
                let d = reg.manifest_digest(reference).await?;
                report(PullProgress::Notice(format!("resolved {reference} to {d}")));
                (d, true)
            }
        };
        let hex = sha256_hex(&manifest_digest, reference)?.to_owned();
        // One pull per digest at a time; whoever comes second finds the work done.
        let gate = lock(&self.inner.inflight)
            .entry(hex.clone())
            .or_default()
            .clone();
        let result = {
            let _held = gate.lock().await;
            self.pull_digest(
                reference,
                &reg,
                &repo,
                &manifest_digest,
                &hex,
                access_proven,
                report,
            )
            .await
        };
        drop(gate);
        {
            let mut inflight = lock(&self.inner.inflight);
            if inflight
                .get(&hex)
                .is_some_and(|g| Arc::strong_count(g) == 1)
            {
                inflight.remove(&hex);
            }
        }
        let pulled = result?;
        if pulled.fetched {
            self.evict();
        }
        Ok(pulled)
    }

    #[allow(clippy::too_many_arguments)]
    async fn pull_digest(
        &self,
        reference: &ImageRef,
        reg: &Registry,
        repo: &RepoDir,
        manifest_digest: &str,
        hex: &str,
        access_proven: bool,
        report: Reporter<'_>,
    ) -> Result<PulledImage, PullError> {
        let cfg = &self.inner.config;
        let pinned = reference.with_digest(manifest_digest);
        let trusted = cfg.trust_cache && reference.digest().is_some();
        // A new manifest is recorded only once the whole pull succeeded: a refused image
        // leaves nothing behind.
        let (manifest, new_manifest) = match cached_manifest(&repo.manifest(hex), hex) {
            Some(m) => {
                if trusted {
                    report(PullProgress::Notice(format!(
                        "{pinned} is in the image store; not asking the registry \
                         ([registry] trust_cache)"
                    )));
                } else if !access_proven {
                    reg.manifest_digest(&pinned).await?;
                }
                (m, None)
            }
            None => {
                let raw = reg.manifest(&pinned, manifest_digest).await?;
                let actual = hex::encode(Sha256::digest(&raw));
                if actual != hex {
                    return Err(PullError::DigestMismatch {
                        what: format!("the manifest of {reference}"),
                        detail: format!("expected sha256:{hex}, got sha256:{actual}"),
                    });
                }
                (parse_manifest(&raw, reference)?, Some(raw))
            }
        };
        let layer = wasm_layer(&manifest, reference)?;
        let layer_hex = sha256_hex(&layer.digest, reference)?.to_owned();
        let size = u64::try_from(layer.size).map_err(|_| PullError::NotWasm {
            reference: reference.to_string(),
            detail: format!("layer size {} is negative", layer.size),
        })?;
        let cap = cfg.max_component_mib.saturating_mul(1024 * 1024);
        if size > cap {
            return Err(PullError::TooLarge {
                what: format!("layer {} of {reference}", layer.digest),
                detail: format!(
                    "its manifest declares {size} bytes, over the {} MiB limit \
                     ([registry] max_component_mib)",
                    cfg.max_component_mib
                ),
            });
        }
        // Lease first: from here on eviction leaves the blob alone.
        let lease = self.lease(&layer_hex);
        let path = self.blob_path(&layer_hex);
        let served = repo.served_blob(&layer_hex);
        // A blob another repository brought is used only once this one served it too.
        let mut fetched = !served.exists();
        if !fetched {
            match verify_blob(&path, &layer_hex, size).await {
                Ok(()) => {}
                Err(Damage::Missing) => fetched = true,
                Err(Damage::Damaged(why)) => {
                    report(PullProgress::Notice(format!(
                        "cached blob {} is damaged ({why}); fetching it again",
                        layer.digest
                    )));
                    std::fs::remove_file(&path).map_err(Self::store_err(&path))?;
                    fetched = true;
                }
            }
        }
        if fetched {
            let started = Instant::now();
            report(PullProgress::Notice(format!(
                "pulling {reference} ({}, {size} bytes)",
                layer.digest
            )));
            self.fetch_blob(reg, &pinned, layer, &layer_hex, size, report)
                .await?;
            write_atomic(&self.inner.dir, &served, b"")?;
            report(PullProgress::Notice(format!(
                "pulled {} in {} ms",
                layer.digest,
                started.elapsed().as_millis()
            )));
        } else {
            touch(&path);
        }
        if let Some(raw) = new_manifest {
            write_atomic(&self.inner.dir, &repo.manifest(hex), &raw)?;
        }
        Ok(PulledImage {
            manifest_digest: manifest_digest.to_owned(),
            layer_digest: layer.digest.clone(),
            path,
            size,
            fetched,
            lease,
        })
    }

    async fn fetch_blob(
        &self,
        reg: &Registry,
        pinned: &ImageRef,
        layer: &OciDescriptor,
        hex: &str,
        size: u64,
        report: Reporter<'_>,
    ) -> Result<(), PullError> {
        let tmp_dir = self.inner.dir.join("tmp");
        std::fs::create_dir_all(&tmp_dir).map_err(Self::store_err(&tmp_dir))?;
        let tmp = tmp_dir.join(format!("{hex}.{}", uuid::Uuid::new_v4().simple()));
        let result = async {
            reg.blob(
                pinned,
                &layer.digest,
                size,
                &tmp,
                &self.inner.fetches,
                report,
            )
            .await?;
            // Verified once more from the disk: what is renamed into place is what runs.
            match verify_blob(&tmp, hex, size).await {
                Ok(()) => {}
                Err(Damage::Missing) => {
                    return Err(PullError::Store {
                        path: tmp.clone(),
                        source: std::io::ErrorKind::NotFound.into(),
                    });
                }
                Err(Damage::Damaged(why)) => {
                    return Err(PullError::DigestMismatch {
                        what: format!("layer {} of {pinned}", layer.digest),
                        detail: why,
                    });
                }
            }
            let path = self.blob_path(hex);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(Self::store_err(parent))?;
            }
            std::fs::rename(&tmp, &path).map_err(Self::store_err(&path))
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(&tmp);
        }
        result
    }

    fn lease(&self, hex: &str) -> ImageLease {
        *lock(&self.inner.in_use).entry(hex.to_owned()).or_default() += 1;
        ImageLease {
            inner: self.inner.clone(),
            hex: hex.to_owned(),
        }
    }

    /// Evicts least recently used blobs no running task holds until the store fits its cap.
    pub fn evict(&self) {
        let cap = self.inner.config.cache_max_mib.saturating_mul(1024 * 1024);
        let dir = self.inner.dir.join("blobs").join("sha256");
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return;
        };
        let mut blobs: Vec<(SystemTime, u64, String)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                let m = e.metadata().ok()?;
                let used = m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
                Some((used, m.len(), e.file_name().to_string_lossy().into_owned()))
            })
            .collect();
        let mut total: u64 = blobs.iter().map(|b| b.1).sum();
        if total <= cap {
            return;
        }
        blobs.sort();
        for (_, len, hex) in blobs {
            if total <= cap {
                break;
            }
            if lock(&self.inner.in_use).contains_key(&hex) {
                continue;
            }
            if std::fs::remove_file(dir.join(&hex)).is_ok() {
                tracing::info!("image store: evicted blob sha256:{hex} ({len} bytes)");
                total -= len;
                for hook in read(&self.inner.on_evict.0).iter() {
                    hook.evicted(&hex);
                }
            }
        }
    }
}

/// Publishes `component` at `reference` in the CNCF Wasm OCI artifact layout and returns the
/// manifest digest.
pub async fn push(
    component: &Path,
    reference: &ImageRef,
    credentials: &Credentials,
    config: &RegistryConfig,
) -> Result<String, PullError> {
    let bytes = std::fs::read(component).map_err(|source| PullError::Input {
        path: component.to_owned(),
        source,
    })?;
    if wasmparser_magic(&bytes).is_none() {
        return Err(PullError::NotWasm {
            reference: component.display().to_string(),
            detail: "the file is not a WebAssembly component".into(),
        });
    }
    let layer_digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
    let created = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let config_json = serde_json::json!({
        "created": created,
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest],
    });
    let config_blob = Config::new(
        bytes::Bytes::from(serde_json::to_vec(&config_json).unwrap_or_default()),
        WASM_CONFIG_MEDIA_TYPE.to_owned(),
        None,
    );
    let layers = [ImageLayer::new(
        bytes::Bytes::from(bytes),
        WASM_LAYER_MEDIA_TYPE.to_owned(),
        None,
    )];
    let manifest = OciImageManifest::build(&layers, &config_blob, None);
    let manifest_bytes =
        bytes::Bytes::from(
            serde_json::to_vec(&manifest).map_err(|e| PullError::Registry {
                registry: reference.registry().to_owned(),
                message: format!("cannot encode the manifest: {e}"),
            })?,
        );
    let reg = Registry::new(reference, credentials, config, Op::Push)?;
    let blobs = [
        (config_blob.sha256_digest(), config_blob.data.clone()),
        (layers[0].sha256_digest(), layers[0].data.clone()),
    ];
    for (digest, data) in blobs {
        if !reg.has_blob(reference, &digest).await? {
            reg.upload_blob(reference, &digest, data).await?;
        }
    }
    let ours = format!("sha256:{}", hex::encode(Sha256::digest(&manifest_bytes)));
    let reported = reg
        .put_manifest(reference, manifest_bytes, registry::OCI_MANIFEST_MEDIA_TYPE)
        .await?;
    match reported {
        Some(d) if d != ours => Err(PullError::DigestMismatch {
            what: format!("the manifest pushed to {reference}"),
            detail: format!("sent {ours}, the registry stored {d}"),
        }),
        _ => Ok(ours),
    }
}

/// A component starts with `\0asm` and a layer-1 version (0x0d 0x00 0x01 0x00).
fn wasmparser_magic(bytes: &[u8]) -> Option<()> {
    (bytes.len() >= 8 && &bytes[..4] == b"\0asm" && bytes[6..8] == [1, 0]).then_some(())
}

fn parse_manifest(raw: &[u8], reference: &ImageRef) -> Result<OciImageManifest, PullError> {
    serde_json::from_slice(raw).map_err(|e| PullError::NotWasm {
        reference: reference.to_string(),
        detail: format!("the manifest is not an OCI image manifest: {e}"),
    })
}

fn wasm_layer<'m>(
    manifest: &'m OciImageManifest,
    reference: &ImageRef,
) -> Result<&'m OciDescriptor, PullError> {
    let wasm: Vec<&OciDescriptor> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == WASM_LAYER_MEDIA_TYPE)
        .collect();
    match wasm.as_slice() {
        [one] => Ok(one),
        _ => Err(PullError::NotWasm {
            reference: reference.to_string(),
            detail: format!(
                "expected one {WASM_LAYER_MEDIA_TYPE} layer, found layers [{}] (config {})",
                manifest
                    .layers
                    .iter()
                    .map(|l| l.media_type.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                manifest.config.media_type
            ),
        }),
    }
}

fn sha256_hex<'d>(digest: &'d str, reference: &ImageRef) -> Result<&'d str, PullError> {
    digest
        .strip_prefix("sha256:")
        .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| PullError::Registry {
            registry: reference.registry().to_owned(),
            message: format!("unsupported digest {digest:?} (only sha256)"),
        })
}

enum Damage {
    Missing,
    Damaged(String),
}

/// Checks a stored blob's size and sha256.
async fn verify_blob(path: &Path, hex: &str, size: u64) -> Result<(), Damage> {
    let path = path.to_owned();
    let hex = hex.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut f = match std::fs::File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Damage::Missing),
            Err(e) => return Err(Damage::Damaged(e.to_string())),
        };
        let len = f
            .metadata()
            .map_err(|e| Damage::Damaged(e.to_string()))?
            .len();
        if len != size {
            return Err(Damage::Damaged(format!(
                "{len} bytes where the manifest says {size}"
            )));
        }
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = f
                .read(&mut buf)
                .map_err(|e| Damage::Damaged(e.to_string()))?;
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        let actual = hex::encode(h.finalize());
        if actual == hex {
            Ok(())
        } else {
            Err(Damage::Damaged(format!(
                "expected sha256:{hex}, got sha256:{actual}"
            )))
        }
    })
    .await
    .unwrap_or_else(|e| Err(Damage::Damaged(e.to_string())))
}

fn write_atomic(dir: &Path, path: &Path, bytes: &[u8]) -> Result<(), PullError> {
    let tmp_dir = dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(ImageStore::store_err(&tmp_dir))?;
    let tmp = tmp_dir.join(uuid::Uuid::new_v4().simple().to_string());
    std::fs::write(&tmp, bytes).map_err(ImageStore::store_err(&tmp))?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(ImageStore::store_err(parent))?;
    }
    std::fs::rename(&tmp, path).map_err(ImageStore::store_err(path))
}

/// The manifest stored at `path`, if it is there, intact, and parses.
fn cached_manifest(path: &Path, hex: &str) -> Option<OciImageManifest> {
    let raw = std::fs::read(path).ok()?;
    if hex::encode(Sha256::digest(&raw)) != hex {
        let _ = std::fs::remove_file(path);
        return None;
    }
    serde_json::from_slice(&raw).ok()
}

/// Marks a blob as just used (its mtime orders eviction, across restarts too).
fn touch(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{HostSecret, RegistryAuthConfig};

    #[test]
    fn secrets_parse_both_forms_and_never_print() {
        let (username, password) = parse_secret("s", "alice:pa:ss").unwrap();
        assert_eq!(username, "alice");
        assert_eq!(password.expose(), "pa:ss");
        assert!(!format!("{password:?}").contains("pa:ss"));
        let (username, _) = parse_secret("s", r#"{"username":"bob","password":"x"}"#).unwrap();
        assert_eq!(username, "bob");
        let e = parse_secret("s", "nocolon").unwrap_err().to_string();
        assert!(!e.contains("nocolon"), "{e}");
    }

    #[derive(Default)]
    struct Heard(Mutex<Vec<String>>);

    impl EvictionHook for Heard {
        fn evicted(&self, sha256_hex: &str) {
            lock(&self.0).push(sha256_hex.to_owned());
        }
    }

    #[test]
    fn eviction_tells_every_hook_which_blob_went_and_spares_leased_ones() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::new(
            dir.path().to_owned(),
            RegistryConfig {
                cache_max_mib: 0,
                ..RegistryConfig::default()
            },
        );
        let blobs = dir.path().join("blobs").join("sha256");
        std::fs::create_dir_all(&blobs).unwrap();
        for hex in [digest('a'), digest('b')] {
            std::fs::write(blobs.join(&hex), b"component").unwrap();
        }
        let (first, second) = (Arc::new(Heard::default()), Arc::new(Heard::default()));
        store.register_eviction_hook(first.clone());
        store.register_eviction_hook(second.clone());
        let _held = store.lease(&digest('b'));
        store.evict();
        assert!(!blobs.join(digest('a')).exists());
        assert!(blobs.join(digest('b')).exists(), "a leased blob stays");
        assert_eq!(*lock(&first.0), vec![digest('a')]);
        assert_eq!(*lock(&second.0), vec![digest('a')]);
    }

    fn config() -> HostConfig {
        let mut config = HostConfig::default();
        config.secrets.insert(
            "bound".into(),
            HostSecret::bound("u:p", &["localhost:5000", "registry.example.com"]),
        );
        config
            .secrets
            .insert("loose".into(), HostSecret::unbound("u:p"));
        config.registry.auths.push(RegistryAuthConfig {
            registry: "localhost:5000".into(),
            username: "host".into(),
            password: Secret::new("hp"),
            token_realms: vec![],
        });
        config
    }

    #[test]
    fn credentials_come_from_the_secret_store_then_the_host_config() {
        let config = config();
        assert!(matches!(
            credentials(&config, "localhost:5000", Some("bound")).unwrap(),
            Credentials::Basic { username, from, .. } if username == "u" && from == "secret bound"
        ));
        assert!(matches!(
            credentials(&config, "Registry.Example.com", Some("bound")).unwrap(),
            Credentials::Basic { .. }
        ));
        assert!(matches!(
            credentials(&config, "localhost:5000", None).unwrap(),
            Credentials::Basic { username, .. } if username == "host"
        ));
        assert!(matches!(
            credentials(&config, "other:1", None).unwrap(),
            Credentials::Anonymous
        ));
        assert!(credentials(&config, "x", Some("missing")).is_err());
    }

    #[test]
    fn a_secret_goes_only_to_the_registries_it_is_bound_to() {
        let config = config();
        let e = credentials(&config, "evil.example.com:5000", Some("bound"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("secret bound is not allowed for registry evil.example.com:5000"),
            "{e}"
        );
        assert!(e.contains("\"localhost:5000\""), "{e}");
        // Another port of a bound host is another registry.
        assert!(credentials(&config, "localhost:5001", Some("bound")).is_err());
        // The plain form is bound to nothing: refused everywhere, with how to bind it.
        let e = credentials(&config, "localhost:5000", Some("loose"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("secret loose is not allowed for registry localhost:5000"),
            "{e}"
        );
        assert!(
            e.contains("[secrets.loose] value = \"…\", registries = [\"localhost:5000\"]"),
            "{e}"
        );
        assert!(!e.contains("u:p"), "{e}");
    }

    fn digest(n: char) -> String {
        format!("sha256:{}", n.to_string().repeat(64))
    }

    #[test]
    fn the_store_keys_what_a_repository_served_by_registry_and_repository() {
        let dir = Path::new("/images");
        let at = |r: &str| RepoDir::new(dir, &ImageRef::parse(r).unwrap()).unwrap();
        let hex = "a".repeat(64);
        let a = at(&format!("127.0.0.1:5000/team-a/app@{}", digest('a')));
        let same = at("127.0.0.1:5000/team-a/app:v2");
        let other_registry = at(&format!("localhost:5000/team-a/app@{}", digest('a')));
        let other_repo = at(&format!("127.0.0.1:5000/team-b/app@{}", digest('a')));
        assert_eq!(a.manifest(&hex), same.manifest(&hex));
        assert_eq!(a.served_blob(&hex), same.served_blob(&hex));
        for other in [&other_registry, &other_repo] {
            assert_ne!(a.manifest(&hex), other.manifest(&hex));
            assert_ne!(a.served_blob(&hex), other.served_blob(&hex));
        }
        assert_eq!(
            a.served_blob(&hex),
            dir.join(format!("repos/127.0.0.1:5000/team-a/app/_blobs/{hex}"))
        );
        // A repository named like the store's own directories stays apart from them.
        let nested = at("127.0.0.1:5000/team-a/app/blobs:v1");
        assert_ne!(nested.served_blob(&hex), a.served_blob(&hex));
        assert!(nested.served_blob(&hex).starts_with(&a.0));
        // Registry names are case-insensitive.
        assert_eq!(
            at("LOCALHOST:5000/team-a/app:v1").manifest(&hex),
            other_registry.manifest(&hex)
        );
    }

    #[test]
    fn only_safe_names_become_directories() {
        for ok in [
            "localhost:5000",
            "[::1]:5000",
            "team-a",
            "a.b_c",
            "127.0.0.1",
        ] {
            assert!(is_path_component(ok), "{ok}");
        }
        for bad in ["", ".", "..", "_blobs", "a/b", "a b", "a\0"] {
            assert!(!is_path_component(bad), "{bad:?}");
        }
    }
}
