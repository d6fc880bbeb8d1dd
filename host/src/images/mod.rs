//! Images from OCI registries: references, pulls, pushes and the content-addressed store.
//!
//! Layout under `<data-dir>/images/`:
//! - `blobs/sha256/<hex>`: component bytes, named by their digest and verified (size and
//!   sha256) every time a task uses them; a damaged one is deleted and fetched again.
//! - `manifests/sha256/<hex>`: manifests by digest, so a pinned or already resolved image
//!   needs no registry round trip for its manifest.
//! - `tmp/`: downloads in progress, renamed into place once verified.
//!
//! Tags are resolved to a manifest digest at every task start; the digest is what runs. Pulls
//! of one digest are coalesced (the second waits for the first and finds the blob in place).
//! Blobs are touched on every use; past `[registry] cache_max_mib` the least recently used
//! blobs that no running task holds (see `ImageLease`) are evicted with their compiled
//! artifacts. Nothing here knows about tasks or the ECS API.

pub mod reference;
pub(crate) mod registry;

pub use reference::{ImageRef, ReferenceError, is_loopback_registry};
pub use registry::{WASM_CONFIG_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE};

use crate::config::{HostConfig, RegistryConfig, Secret};
use oci_client::RegistryOperation;
use oci_client::client::{Config, ImageLayer};
use oci_client::manifest::{OciDescriptor, OciImageManifest};
use registry::Registry;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime};
use tokio::io::AsyncWrite;

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
    #[error("registry {registry}: {message}")]
    Registry { registry: String, message: String },
    #[error("registry credentials: {0}")]
    Credentials(String),
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
    Basic { username: String, password: Secret },
}

/// The credentials a pull from `registry` uses: the container's `repositoryCredentials`
/// secret when it names one (it must exist), else the host's `[[registry.auths]]` entry for
/// the registry, else none.
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
        return parse_secret(name, secret.expose());
    }
    Ok(config
        .registry
        .auths
        .iter()
        .find(|a| a.registry == registry)
        .map_or(Credentials::Anonymous, |a| Credentials::Basic {
            username: a.username.clone(),
            password: a.password.clone(),
        }))
}

/// A secret is `username:password` or `{"username": …, "password": …}` (as ECS stores it).
fn parse_secret(name: &str, value: &str) -> Result<Credentials, PullError> {
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
    Ok(Credentials::Basic {
        username,
        password: Secret::new(password),
    })
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

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    /// Compiled artifacts named `<hex>-<engine key>.cwasm`, evicted with their blob.
    artifacts_dir: Option<PathBuf>,
    config: RegistryConfig,
    in_use: Mutex<HashMap<String, usize>>,
    inflight: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    fetches: AtomicU64,
}

/// The content-addressed image store shared by every task of the host.
#[derive(Debug, Clone)]
pub struct ImageStore {
    inner: Arc<Inner>,
}

impl ImageStore {
    pub fn new(dir: PathBuf, artifacts_dir: Option<PathBuf>, config: RegistryConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir,
                artifacts_dir,
                config,
                in_use: Mutex::default(),
                inflight: Mutex::default(),
                fetches: AtomicU64::new(0),
            }),
        }
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

    fn manifest_path(&self, hex: &str) -> PathBuf {
        self.inner.dir.join("manifests").join("sha256").join(hex)
    }

    fn store_err(path: &Path) -> impl FnOnce(std::io::Error) -> PullError + '_ {
        move |source| PullError::Store {
            path: path.to_owned(),
            source,
        }
    }

    /// Resolves `reference` to a digest and makes its component available locally.
    pub async fn pull(
        &self,
        reference: &ImageRef,
        credentials: &Credentials,
        report: Reporter<'_>,
    ) -> Result<PulledImage, PullError> {
        let cfg = &self.inner.config;
        let reg = Registry::new(reference, credentials, &cfg.insecure, cfg.max_attempts);
        let manifest_digest = match reference.digest() {
            Some(d) => d.to_owned(),
            None => {
                reg.login(reference, RegistryOperation::Pull).await?;
                let d = reg
                    .retry(reference, || {
                        reg.client.fetch_manifest_digest(reference.oci(), &reg.auth)
                    })
                    .await?;
                report(PullProgress::Notice(format!("resolved {reference} to {d}")));
                d
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
            self.pull_digest(reference, &reg, &manifest_digest, &hex, report)
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

    async fn pull_digest(
        &self,
        reference: &ImageRef,
        reg: &Registry,
        manifest_digest: &str,
        hex: &str,
        report: Reporter<'_>,
    ) -> Result<PulledImage, PullError> {
        let pinned = reference.with_digest(manifest_digest);
        let manifest = match self.cached_manifest(hex) {
            Some(m) => m,
            None => {
                if reference.digest().is_some() {
                    reg.login(reference, RegistryOperation::Pull).await?;
                }
                let (raw, _) = reg
                    .retry(&pinned, || {
                        reg.client.pull_manifest_raw(
                            pinned.oci(),
                            &reg.auth,
                            &[
                                registry::OCI_MANIFEST_MEDIA_TYPE,
                                registry::DOCKER_MANIFEST_MEDIA_TYPE,
                            ],
                        )
                    })
                    .await?;
                let actual = hex::encode(Sha256::digest(&raw));
                if actual != hex {
                    return Err(PullError::DigestMismatch {
                        what: format!("the manifest of {reference}"),
                        detail: format!("expected sha256:{hex}, got sha256:{actual}"),
                    });
                }
                let m = parse_manifest(&raw, reference)?;
                write_atomic(&self.inner.dir, &self.manifest_path(hex), &raw)?;
                m
            }
        };
        let layer = wasm_layer(&manifest, reference)?;
        let layer_hex = sha256_hex(&layer.digest, reference)?.to_owned();
        let size = u64::try_from(layer.size).map_err(|_| PullError::NotWasm {
            reference: reference.to_string(),
            detail: format!("layer size {} is negative", layer.size),
        })?;
        // Lease first: from here on eviction leaves the blob alone.
        let lease = self.lease(&layer_hex);
        let path = self.blob_path(&layer_hex);
        let mut fetched = false;
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
        if fetched {
            let started = Instant::now();
            report(PullProgress::Notice(format!(
                "pulling {reference} ({}, {size} bytes)",
                layer.digest
            )));
            self.fetch_blob(reg, &pinned, layer, &layer_hex, size, report)
                .await?;
            report(PullProgress::Notice(format!(
                "pulled {} in {} ms",
                layer.digest,
                started.elapsed().as_millis()
            )));
        } else {
            touch(&path);
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

    fn cached_manifest(&self, hex: &str) -> Option<OciImageManifest> {
        let path = self.manifest_path(hex);
        let raw = std::fs::read(&path).ok()?;
        if hex::encode(Sha256::digest(&raw)) != hex {
            let _ = std::fs::remove_file(&path);
            return None;
        }
        serde_json::from_slice(&raw).ok()
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
            reg.retry(pinned, || async {
                self.inner.fetches.fetch_add(1, Ordering::Relaxed);
                let file = tokio::fs::File::create(&tmp).await?;
                let out = Counting {
                    inner: file,
                    done: AtomicU64::new(0),
                    total: size,
                    report,
                };
                reg.client.pull_blob(pinned.oci(), layer, out).await
            })
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
                self.remove_artifacts(&hex);
            }
        }
    }

    fn remove_artifacts(&self, hex: &str) {
        let Some(dir) = &self.inner.artifacts_dir else {
            return;
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let prefix = format!("{hex}-");
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = std::fs::remove_file(e.path());
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
    let reg = Registry::new(
        reference,
        credentials,
        &config.insecure,
        config.max_attempts,
    );
    reg.login(reference, RegistryOperation::Push).await?;
    let manifest = OciImageManifest::build(&layers, &config_blob, None);
    reg.retry(reference, || {
        reg.client.push(
            reference.oci(),
            &layers,
            config_blob.clone(),
            &reg.auth,
            Some(manifest.clone()),
        )
    })
    .await?;
    reg.retry(reference, || {
        reg.client.fetch_manifest_digest(reference.oci(), &reg.auth)
    })
    .await
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

/// Marks a blob as just used (its mtime orders eviction, across restarts too).
fn touch(path: &Path) {
    if let Ok(f) = std::fs::OpenOptions::new().append(true).open(path) {
        let _ = f.set_modified(SystemTime::now());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

const PROGRESS_STEP: u64 = 256 * 1024;

/// A writer that reports how many bytes went through.
struct Counting<'r, W> {
    inner: W,
    done: AtomicU64,
    total: u64,
    report: Reporter<'r>,
}

impl<W: AsyncWrite + Unpin> AsyncWrite for Counting<'_, W> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            let before = this.done.fetch_add(*n as u64, Ordering::Relaxed);
            let done = before + *n as u64;
            // Every 256 KiB and at the end: enough for a bar, few events.
            if done / PROGRESS_STEP != before / PROGRESS_STEP || done == this.total {
                (this.report)(PullProgress::Bytes {
                    done,
                    total: this.total,
                });
            }
        }
        r
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_parse_both_forms_and_never_print() {
        let c = parse_secret("s", "alice:pa:ss").unwrap();
        let Credentials::Basic { username, password } = &c else {
            panic!("basic expected")
        };
        assert_eq!(username, "alice");
        assert_eq!(password.expose(), "pa:ss");
        assert!(!format!("{c:?}").contains("pa:ss"));
        let c = parse_secret("s", r#"{"username":"bob","password":"x"}"#).unwrap();
        assert!(matches!(c, Credentials::Basic { username, .. } if username == "bob"));
        let e = parse_secret("s", "nocolon").unwrap_err().to_string();
        assert!(!e.contains("nocolon"), "{e}");
    }

    #[test]
    fn credentials_come_from_the_secret_store_then_the_host_config() {
        let mut config = HostConfig::default();
        config
            .secrets
            .insert("reg".into(), Secret::new("u:p".to_owned()));
        config
            .registry
            .auths
            .push(crate::config::RegistryAuthConfig {
                registry: "localhost:5000".into(),
                username: "host".into(),
                password: Secret::new("hp"),
            });
        assert!(matches!(
            credentials(&config, "localhost:5000", Some("reg")).unwrap(),
            Credentials::Basic { username, .. } if username == "u"
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
}
