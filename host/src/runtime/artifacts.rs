//! Compiled components, cached on disk by content hash so a second run does not compile.
//!
//! Key: sha256 of the component bytes plus the engine's artifact key (artifacts are tied to
//! the engine's settings: fuel, pooling, memory reservation). Files are written to a temp
//! name and renamed, so a crash never leaves a half-written artifact under a real name. Within
//! one process, prepared components (`InstancePre`) are kept in memory too, which is what
//! makes a warm task start cost only an instantiation.

use super::engine::GuestEngine;
use super::guest_state::GuestState;
use crate::util::sync::lock;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Condvar, Mutex};
use std::time::SystemTime;
use wasmtime::component::Component;
use wasmtime_wasi::p2::bindings::CommandPre;
use wasmtime_wasi_http::p2::bindings::ProxyPre;

#[derive(Debug, thiserror::Error)]
pub enum ArtifactError {
    #[error("cannot read component {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("not a WebAssembly component: {} ({message})", path.display())]
    NotAComponent { path: PathBuf, message: String },
    #[error("{path}: {message}")]
    Link { path: PathBuf, message: String },
    #[error("cannot write the compile cache at {path}: {source}")]
    Cache {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// How a component is run, decided by what it exports.
#[derive(Clone)]
pub enum Entry {
    /// `wasi:cli/run`: instantiated once, runs to its exit.
    Command(CommandPre<GuestState>),
    /// `wasi:http/incoming-handler`: served on the task's ports, one instance per request.
    /// Wins over `wasi:cli/run` when a component exports both (Rust binaries do).
    Http(ProxyPre<GuestState>),
}

/// The export that makes a component an HTTP component (any 0.2.x version).
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

/// A component ready to instantiate.
#[derive(Clone)]
pub struct Prepared {
    pub digest: String,
    pub entry: Entry,
    /// True when this load had to run the compiler (a cold start).
    pub compiled: bool,
    /// Compiles running on the host when this one started, itself included (0: no compile).
    pub compiles_at_once: usize,
}

pub struct ArtifactCache {
    dir: PathBuf,
    prepared: Mutex<HashMap<String, Prepared>>,
    digests: Mutex<HashMap<PathBuf, (SystemTime, u64, String)>>,
    /// Compiles run side by side (a task's distinct images, several tasks), at most one
    /// per CPU: more would only share the cores and make every one of them later.
    compiles: CompileSlots,
    /// Loads answered without compiling (from memory or the disk cache).
    hits: std::sync::atomic::AtomicU64,
}

/// A counting semaphore for the compiler, taken on the blocking threads loads run on.
struct CompileSlots {
    max: usize,
    busy: Mutex<usize>,
    freed: Condvar,
}

/// One compile's slot; given back when dropped.
struct CompileSlot<'a> {
    slots: &'a CompileSlots,
    /// Compiles running when this one started, itself included.
    at_once: usize,
}

impl CompileSlots {
    fn new(max: usize) -> Self {
        Self {
            max: max.max(1),
            busy: Mutex::new(0),
            freed: Condvar::new(),
        }
    }

    fn take(&self) -> CompileSlot<'_> {
        let mut busy = lock(&self.busy);
        while *busy >= self.max {
            busy = self
                .freed
                .wait(busy)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        *busy += 1;
        CompileSlot {
            slots: self,
            at_once: *busy,
        }
    }
}

impl Drop for CompileSlot<'_> {
    fn drop(&mut self) {
        *lock(&self.slots.busy) -= 1;
        self.slots.freed.notify_one();
    }
}

impl ArtifactCache {
    pub fn new(dir: PathBuf) -> Self {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self {
            dir,
            prepared: Mutex::default(),
            digests: Mutex::default(),
            compiles: CompileSlots::new(cpus),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Loads the component at `path`: from memory, else from the disk cache, else compiles.
    pub fn load(&self, engine: &GuestEngine, path: &Path) -> Result<Prepared, ArtifactError> {
        let read_err = |source| ArtifactError::Read {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        let stamp = (meta.modified().map_err(read_err)?, meta.len());
        let known = lock(&self.digests)
            .get(path)
            .filter(|(m, l, _)| (*m, *l) == stamp)
            .map(|(_, _, d)| d.clone());
        let (digest, bytes) = match known {
            Some(d) => (d, None),
            None => {
                let bytes = std::fs::read(path).map_err(read_err)?;
                let d = hex::encode(Sha256::digest(&bytes));
                lock(&self.digests).insert(path.to_owned(), (stamp.0, stamp.1, d.clone()));
                (d, Some(bytes))
            }
        };
        if let Some(p) = lock(&self.prepared).get(&digest) {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Prepared {
                compiled: false,
                compiles_at_once: 0,
                ..p.clone()
            });
        }
        let (component, at_once) = self.component(engine, path, &digest, bytes)?;
        if at_once == 0 {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        let link_err = |e: wasmtime::Error| ArtifactError::Link {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        let serves_http = component
            .component_type()
            .exports(&engine.engine)
            .any(|(name, _)| name.starts_with(INCOMING_HANDLER));
        let pre = engine
            .linker
            .instantiate_pre(&component)
            .map_err(link_err)?;
        let entry = if serves_http {
            Entry::Http(ProxyPre::new(pre).map_err(link_err)?)
        } else {
            Entry::Command(CommandPre::new(pre).map_err(link_err)?)
        };
        let prepared = Prepared {
            digest: digest.clone(),
            entry,
            compiled: at_once > 0,
            compiles_at_once: at_once,
        };
        lock(&self.prepared).insert(digest, prepared.clone());
        Ok(prepared)
    }

    /// Loads that needed no compilation since start (`CompileCacheHits`).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Forgets the component with this content digest: its artifacts on disk (one per
    /// engine key) and what is prepared in memory (tasks running it hold their own copy).
    fn forget(&self, digest: &str) {
        lock(&self.prepared).remove(digest);
        lock(&self.digests).retain(|_, (_, _, d)| d != digest);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        let prefix = format!("{digest}-");
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".cwasm") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn component(
        &self,
        engine: &GuestEngine,
        path: &Path,
        digest: &str,
        bytes: Option<Vec<u8>>,
    ) -> Result<(Component, usize), ArtifactError> {
        let artifact = self
            .dir
            .join(format!("{digest}-{}.cwasm", engine.artifact_key));
        if artifact.exists() {
            // SAFETY: only files this cache wrote (atomically, under a name derived from the
            // engine's settings) are ever deserialised.
            match unsafe { Component::deserialize_file(&engine.engine, &artifact) } {
                Ok(c) => return Ok((c, 0)),
                Err(e) => tracing::warn!("discarding unusable cached artifact {artifact:?}: {e}"),
            }
        }
        let bytes = match bytes {
            Some(b) => b,
            None => std::fs::read(path).map_err(|source| ArtifactError::Read {
                path: path.to_owned(),
                source,
            })?,
        };
        let not_component = |e: wasmtime::Error| ArtifactError::NotAComponent {
            path: path.to_owned(),
            message: format!("{e:#}"),
        };
        if let Some(what) = not_a_component(&bytes) {
            return Err(ArtifactError::NotAComponent {
                path: path.to_owned(),
                message: what,
            });
        }
        let slot = self.compiles.take();
        let at_once = slot.at_once;
        let compiled = engine
            .engine
            .precompile_component(&bytes)
            .map_err(not_component)?;
        drop(slot);
        let cache_err = |source| ArtifactError::Cache {
            path: artifact.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(cache_err)?;
        let tmp = self
            .dir
            .join(format!(".{digest}.{}.tmp", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, &compiled).map_err(cache_err)?;
        std::fs::rename(&tmp, &artifact).map_err(cache_err)?;
        // SAFETY: the bytes were produced by this engine a moment ago.
        let component =
            unsafe { Component::deserialize(&engine.engine, &compiled) }.map_err(not_component)?;
        Ok((component, at_once))
    }
}

/// Why `bytes` are plainly no component, before wasmtime tries (which, with its WAT
/// support, would answer a text or HTML file with a parser excerpt): what the file starts
/// with, or that it is a core module. None when the header says component.
fn not_a_component(bytes: &[u8]) -> Option<String> {
    const MAGIC: &[u8] = b"\0asm";
    match bytes.get(..8) {
        Some(h) if h.starts_with(MAGIC) && h[6..8] == [1, 0] => None,
        Some(h) if h.starts_with(MAGIC) && h[4..8] == [1, 0, 0, 0] => Some(
            "a core WebAssembly module, not a component; `wasm-tools component new` or a \
             wasm32-wasip2 build makes one"
                .to_owned(),
        ),
        Some(h) if h.starts_with(MAGIC) => None,
        _ if bytes.is_empty() => Some("the file is empty".to_owned()),
        _ => {
            let head = &bytes[..bytes.len().min(16)];
            let shown: String = head.escape_ascii().to_string();
            Some(format!("starts with \"{shown}\", not \"\\0asm\""))
        }
    }
}

/// The image store's blobs are components named by their sha256, the key of this cache too.
impl crate::images::EvictionHook for ArtifactCache {
    fn evicted(&self, sha256_hex: &str) {
        self.forget(sha256_hex);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::images::EvictionHook;

    #[test]
    fn an_evicted_component_takes_its_artifacts_for_every_engine_key() {
        let dir = tempfile::tempdir().unwrap();
        let cache = ArtifactCache::new(dir.path().to_owned());
        let (gone, kept) = ("ab".repeat(32), "cd".repeat(32));
        for name in [
            format!("{gone}-k1.cwasm"),
            format!("{gone}-k2.cwasm"),
            format!("{kept}-k1.cwasm"),
        ] {
            std::fs::write(dir.path().join(name), b"artifact").unwrap();
        }
        cache.evicted(&gone);
        let mut left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(left, vec![format!("{kept}-k1.cwasm")]);
    }

    #[test]
    fn compiles_run_side_by_side_up_to_the_limit() {
        let slots = std::sync::Arc::new(CompileSlots::new(2));
        let a = slots.take();
        let b = slots.take();
        assert_eq!((a.at_once, b.at_once), (1, 2));
        let (tx, rx) = std::sync::mpsc::channel();
        let s = slots.clone();
        let waiter = std::thread::spawn(move || tx.send(s.take().at_once).unwrap());
        // The third waits for a slot: nothing arrives while both are held.
        assert!(
            rx.recv_timeout(std::time::Duration::from_millis(50))
                .is_err()
        );
        drop(a);
        assert_eq!(rx.recv().unwrap(), 2);
        waiter.join().unwrap();
        drop(b);
        assert_eq!(*lock(&slots.busy), 0);
    }

    #[test]
    fn plainly_not_a_component() {
        let html = not_a_component(b"<!DOCTYPE html>\n<html>").unwrap();
        assert_eq!(html, r#"starts with "<!DOCTYPE html>\n", not "\0asm""#);
        assert!(
            not_a_component(b"\0asm\x01\0\0\0")
                .unwrap()
                .contains("core WebAssembly module")
        );
        assert_eq!(not_a_component(b"").unwrap(), "the file is empty");
        assert_eq!(not_a_component(b"\0asm\x0d\0\x01\0"), None);
    }
}
