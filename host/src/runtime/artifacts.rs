//! Compiled components, cached on disk by content hash so a second run does not compile.
//!
//! Key: sha256 of the component bytes plus the engine's artifact key (artifacts are tied to
//! the engine's settings: fuel, pooling, memory reservation, compiler), on disk and in
//! memory alike: a component run by containers with and without a fuel meter is compiled
//! once for each. Files are written to
//! a temp name and renamed, so a crash never leaves a half-written artifact under a real
//! name. Within one process, prepared components (`InstancePre`) are kept in memory too,
//! which is what makes a warm task start cost only an instantiation.
//!
//! Tiered (`[compile] tiered`): a component with no Cranelift artifact yet is compiled with
//! Winch (a fraction of Cranelift's time) and starts on that, while Cranelift compiles it on
//! a background thread. When that is done, the Cranelift entry is published to every holder
//! of the Winch one ([`Prepared::current`]: each new HTTP request instance, each container
//! started later) and replaces it in memory. Only Cranelift artifacts go to disk: the Winch
//! code is a stopgap for one process's first minutes, and a restart finds Cranelift's.

use super::engine::{Tier, Tiers};
use super::guest_state::GuestState;
use crate::util::sync::lock;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Instant, SystemTime};
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

/// Where Cranelift's entry appears once its background compile is done (tiered starts).
pub type Upgrade = Arc<OnceLock<Entry>>;

/// The export that makes a component an HTTP component (any 0.2.x version).
const INCOMING_HANDLER: &str = "wasi:http/incoming-handler@0.2.";

/// A component ready to instantiate.
#[derive(Clone)]
pub struct Prepared {
    pub digest: String,
    /// The entry as loaded; see [`Self::current`] for the one to instantiate now.
    pub entry: Entry,
    /// Set when `entry` is Winch's: Cranelift's arrives here.
    pub upgrade: Option<Upgrade>,
    /// The compiler of `entry`: "Cranelift" or "Winch".
    pub compiler: &'static str,
    /// True when this load had to run the compiler (a cold start).
    pub compiled: bool,
    /// Compiles running on the host when this one started, itself included (0: no compile).
    pub compiles_at_once: usize,
}

impl Prepared {
    /// The entry a new instance should use: Cranelift's once it is ready, else the loaded one.
    pub fn current(&self) -> &Entry {
        self.upgrade
            .as_ref()
            .and_then(|u| u.get())
            .unwrap_or(&self.entry)
    }
}

pub struct ArtifactCache {
    dir: PathBuf,
    prepared: Mutex<HashMap<String, Prepared>>,
    digests: Mutex<HashMap<PathBuf, (SystemTime, u64, String)>>,
    /// Compiles run side by side (a task's distinct images, several tasks), at most one
    /// per CPU: more would only share the cores and make every one of them later.
    compiles: CompileSlots,
    /// Components (by memory key) Cranelift is compiling in the background (tiered), so
    /// one is compiled once however many tasks start on it meanwhile.
    background: Mutex<HashSet<String>>,
    /// Their threads, joined by `wait_for_background` (a thread holds the engine, and with
    /// it the pool's address space, until it has returned, not only until it is done).
    threads: Mutex<Vec<std::thread::JoinHandle<()>>>,
    /// Loads answered without compiling (from memory or the disk cache).
    hits: std::sync::atomic::AtomicU64,
}

/// A counting semaphore for the compiler, taken on the blocking threads loads run on. A
/// compile a task waits for goes before a background one (tiered): a background compile
/// takes a slot only while no foreground compile is waiting.
struct CompileSlots {
    max: usize,
    state: Mutex<SlotState>,
    freed: Condvar,
}

#[derive(Default)]
struct SlotState {
    busy: usize,
    /// Foreground compiles waiting for a slot.
    waiting: usize,
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
            state: Mutex::default(),
            freed: Condvar::new(),
        }
    }

    /// A slot for a compile a task waits for.
    fn take(&self) -> CompileSlot<'_> {
        let mut s = lock(&self.state);
        s.waiting += 1;
        while s.busy >= self.max {
            s = self.wait(s);
        }
        s.waiting -= 1;
        s.busy += 1;
        CompileSlot {
            slots: self,
            at_once: s.busy,
        }
    }

    /// A slot for a compile nobody waits for: after every waiting foreground compile.
    fn take_background(&self) -> CompileSlot<'_> {
        let mut s = lock(&self.state);
        while s.busy >= self.max || s.waiting > 0 {
            s = self.wait(s);
        }
        s.busy += 1;
        CompileSlot {
            slots: self,
            at_once: s.busy,
        }
    }

    fn wait<'a>(
        &self,
        s: std::sync::MutexGuard<'a, SlotState>,
    ) -> std::sync::MutexGuard<'a, SlotState> {
        self.freed
            .wait(s)
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Drop for CompileSlot<'_> {
    fn drop(&mut self) {
        lock(&self.slots.state).busy -= 1;
        // Both kinds wait on one condvar: wake all so a foreground waiter is not skipped.
        self.slots.freed.notify_all();
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
            background: Mutex::default(),
            threads: Mutex::default(),
            hits: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// Loads the component at `path` for the engines `tiers`: from memory, else from the
    /// disk cache, else compiles (on Winch first when tiered; see the module docs).
    pub fn load(self: &Arc<Self>, tiers: &Tiers, path: &Path) -> Result<Prepared, ArtifactError> {
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
        let tier = &tiers.cranelift;
        let key = memory_key(tier, &digest);
        if let Some(p) = lock(&self.prepared).get(&key) {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            return Ok(Prepared {
                compiled: false,
                compiles_at_once: 0,
                ..p.clone()
            });
        }
        if let Some(component) = self.cached(tier, &digest) {
            self.hits.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let entry = prepare(tier, &component, path)?;
            return Ok(self.remember(tier, &digest, entry, None, tier.compiler, 0));
        }
        let bytes = match bytes {
            Some(b) => b,
            None => std::fs::read(path).map_err(read_err)?,
        };
        if let Some(what) = not_a_component(&bytes) {
            return Err(ArtifactError::NotAComponent {
                path: path.to_owned(),
                message: what,
            });
        }
        if let Some(winch) = &tiers.winch {
            let slot = self.compiles.take();
            let at_once = slot.at_once;
            let on_winch = compile(winch, &bytes, path)
                .and_then(|c| prepare(winch, &deserialize(winch, &c, path)?, path));
            drop(slot);
            match on_winch {
                Ok(entry) => {
                    let upgrade = Upgrade::default();
                    let p = self.remember(
                        tier,
                        &digest,
                        entry,
                        Some(upgrade.clone()),
                        winch.compiler,
                        at_once,
                    );
                    self.optimise_in_background(tier, path, &digest, bytes, upgrade);
                    return Ok(p);
                }
                Err(e) => tracing::warn!(
                    "{}: Winch cannot run this component ({e}); compiling it with Cranelift",
                    path.display()
                ),
            }
        }
        let slot = self.compiles.take();
        let at_once = slot.at_once;
        let compiled = compile(tier, &bytes, path)?;
        drop(slot);
        self.store(tier, &digest, &compiled)?;
        let entry = prepare(tier, &deserialize(tier, &compiled, path)?, path)?;
        Ok(self.remember(tier, &digest, entry, None, tier.compiler, at_once))
    }

    /// Loads that needed no compilation since start (`CompileCacheHits`).
    pub fn hits(&self) -> u64 {
        self.hits.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Blocks until no background compile runs (benches, and `wasmgate run` before it exits
    /// so that the next run finds Cranelift's artifact on disk).
    pub fn wait_for_background(&self) {
        loop {
            let threads = std::mem::take(&mut *lock(&self.threads));
            if threads.is_empty() {
                return;
            }
            for t in threads {
                let _ = t.join();
            }
        }
    }

    /// Compiles still running in the background.
    pub fn background_compiles(&self) -> usize {
        lock(&self.background).len()
    }

    /// Keeps the prepared component in memory for the next loads on Cranelift `tier`'s
    /// engines (the Winch entry, until Cranelift's replaces it).
    fn remember(
        &self,
        tier: &Tier,
        digest: &str,
        entry: Entry,
        upgrade: Option<Upgrade>,
        compiler: &'static str,
        at_once: usize,
    ) -> Prepared {
        let prepared = Prepared {
            digest: digest.to_owned(),
            entry,
            upgrade,
            compiler,
            compiled: at_once > 0,
            compiles_at_once: at_once,
        };
        lock(&self.prepared).insert(memory_key(tier, digest), prepared.clone());
        prepared
    }

    /// Compiles `bytes` with Cranelift on a thread of its own, after any compile a task
    /// waits for; then hands the entry to `upgrade` and to the next loads.
    fn optimise_in_background(
        self: &Arc<Self>,
        tier: &Tier,
        path: &Path,
        digest: &str,
        bytes: Vec<u8>,
        upgrade: Upgrade,
    ) {
        let key = memory_key(tier, digest);
        if !lock(&self.background).insert(key.clone()) {
            return;
        }
        let (cache, tier, path, digest) = (
            self.clone(),
            tier.clone(),
            path.to_owned(),
            digest.to_owned(),
        );
        let job = move || {
            let t = Instant::now();
            let slot = cache.compiles.take_background();
            let result = compile(&tier, &bytes, &path).and_then(|c| {
                drop(slot);
                cache.store(&tier, &digest, &c)?;
                prepare(&tier, &deserialize(&tier, &c, &path)?, &path)
            });
            match result {
                Ok(entry) => {
                    let _ = upgrade.set(entry.clone());
                    cache.promote(&digest, entry, &upgrade, &tier);
                    tracing::info!(
                        "{}: Cranelift's code is ready after {} ms; new instances run it",
                        path.display(),
                        t.elapsed().as_millis()
                    );
                }
                Err(e) => tracing::warn!(
                    "{}: Cranelift cannot compile this component ({e}); it stays on Winch",
                    path.display()
                ),
            }
            lock(&cache.background).remove(&memory_key(&tier, &digest));
        };
        match std::thread::Builder::new()
            .name("wasmgate-optimise".into())
            .spawn(job)
        {
            Ok(t) => {
                let mut threads = lock(&self.threads);
                threads.retain(|t| !t.is_finished());
                threads.push(t);
            }
            Err(e) => {
                tracing::warn!(
                    "cannot start a background compile: {e}; the component stays on Winch"
                );
                lock(&self.background).remove(&key);
            }
        }
    }

    /// Puts Cranelift's entry in place of the Winch one, unless the component was forgotten
    /// (evicted) meanwhile: then its new artifact goes too.
    fn promote(&self, digest: &str, entry: Entry, upgrade: &Upgrade, tier: &Tier) {
        let mut prepared = lock(&self.prepared);
        match prepared.get_mut(&memory_key(tier, digest)) {
            Some(p) if p.upgrade.as_ref().is_some_and(|u| Arc::ptr_eq(u, upgrade)) => {
                *p = Prepared {
                    digest: digest.to_owned(),
                    entry,
                    upgrade: None,
                    compiler: tier.compiler,
                    compiled: false,
                    compiles_at_once: 0,
                };
            }
            Some(_) => {}
            None => {
                let _ = std::fs::remove_file(self.artifact_path(tier, digest));
            }
        }
    }

    /// Forgets the component with this content digest: its artifacts on disk (one per
    /// engine key) and what is prepared in memory (tasks running it hold their own copy).
    fn forget(&self, digest: &str) {
        let prefix = format!("{digest}-");
        lock(&self.prepared).retain(|key, _| !key.starts_with(&prefix));
        lock(&self.digests).retain(|_, (_, _, d)| d != digest);
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with(&prefix) && name.ends_with(".cwasm") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }

    fn artifact_path(&self, tier: &Tier, digest: &str) -> PathBuf {
        self.dir
            .join(format!("{digest}-{}.cwasm", tier.artifact_key))
    }

    /// The tier's artifact from the disk cache, if there is a usable one.
    fn cached(&self, tier: &Tier, digest: &str) -> Option<Component> {
        let artifact = self.artifact_path(tier, digest);
        if !artifact.exists() {
            return None;
        }
        // SAFETY: only files this cache wrote (atomically, under a name derived from the
        // engine's settings) are ever deserialised.
        match unsafe { Component::deserialize_file(&tier.engine, &artifact) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!("discarding unusable cached artifact {artifact:?}: {e}");
                None
            }
        }
    }

    /// Writes a compiled artifact under its final name (through a temp file and a rename).
    fn store(&self, tier: &Tier, digest: &str, compiled: &[u8]) -> Result<(), ArtifactError> {
        let artifact = self.artifact_path(tier, digest);
        let cache_err = |source| ArtifactError::Cache {
            path: artifact.clone(),
            source,
        };
        std::fs::create_dir_all(&self.dir).map_err(cache_err)?;
        let tmp = self
            .dir
            .join(format!(".{digest}.{}.tmp", uuid::Uuid::new_v4().simple()));
        std::fs::write(&tmp, compiled).map_err(cache_err)?;
        std::fs::rename(&tmp, &artifact).map_err(cache_err)
    }
}

/// What a prepared component is kept under in memory: its content digest and the engine
/// settings of Cranelift `tier` (the artifact's name on disk, less the extension).
fn memory_key(tier: &Tier, digest: &str) -> String {
    format!("{digest}-{}", tier.artifact_key)
}

fn not_component(path: &Path) -> impl Fn(wasmtime::Error) -> ArtifactError + '_ {
    move |e| ArtifactError::NotAComponent {
        path: path.to_owned(),
        message: format!("{e:#}"),
    }
}

/// Machine code for `bytes` from the tier's compiler.
fn compile(tier: &Tier, bytes: &[u8], path: &Path) -> Result<Vec<u8>, ArtifactError> {
    tier.engine
        .precompile_component(bytes)
        .map_err(not_component(path))
}

fn deserialize(tier: &Tier, compiled: &[u8], path: &Path) -> Result<Component, ArtifactError> {
    // SAFETY: the bytes were produced by this engine a moment ago.
    unsafe { Component::deserialize(&tier.engine, compiled) }.map_err(not_component(path))
}

/// Links `component` against the tier's linker; HTTP or command by its exports.
fn prepare(tier: &Tier, component: &Component, path: &Path) -> Result<Entry, ArtifactError> {
    let link_err = |e: wasmtime::Error| ArtifactError::Link {
        path: path.to_owned(),
        message: format!("{e:#}"),
    };
    let serves_http = component
        .component_type()
        .exports(&tier.engine)
        .any(|(name, _)| name.starts_with(INCOMING_HANDLER));
    let pre = tier.linker.instantiate_pre(component).map_err(link_err)?;
    Ok(if serves_http {
        Entry::Http(ProxyPre::new(pre).map_err(link_err)?)
    } else {
        Entry::Command(CommandPre::new(pre).map_err(link_err)?)
    })
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
    use crate::config::HostConfig;
    use crate::images::EvictionHook;
    use crate::runtime::engine::GuestEngine;

    const GUESTS: &str = env!("WASMGATE_GUESTS_DIR");

    fn engine(tiered: bool) -> GuestEngine {
        let mut config = HostConfig::default();
        config.pool.enabled = false;
        config.compile.tiered = tiered;
        GuestEngine::new(&config).unwrap()
    }

    fn cwasm_files(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .map(|d| {
                d.map(|e| e.unwrap().file_name().into_string().unwrap())
                    .filter(|n| n.ends_with(".cwasm"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    fn engine_of(entry: &Entry) -> &wasmtime::Engine {
        match entry {
            Entry::Command(p) => p.engine(),
            Entry::Http(p) => p.engine(),
        }
    }

    #[test]
    fn a_cold_component_starts_on_winch_and_switches_to_cranelift() {
        let g = engine(true);
        let engine = g.tiers(None);
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(ArtifactCache::new(dir.path().to_owned()));
        let path = PathBuf::from(format!("{GUESTS}/sleep.wasm"));
        let first = cache.load(engine, &path).unwrap();
        assert_eq!(first.compiler, "Winch");
        assert!(first.compiled);
        let winch = &engine.winch.as_ref().unwrap().engine;
        assert!(wasmtime::Engine::same(engine_of(&first.entry), winch));

        cache.wait_for_background();
        // Whoever holds the Winch entry gets Cranelift's from now on...
        let cranelift = &engine.cranelift.engine;
        assert!(wasmtime::Engine::same(
            engine_of(first.current()),
            cranelift
        ));
        // ...and so does every later load, without compiling.
        let later = cache.load(engine, &path).unwrap();
        assert_eq!((later.compiler, later.compiled), ("Cranelift", false));
        assert!(later.upgrade.is_none());
        // Only Cranelift's artifact is on disk, under Cranelift's key.
        let digest = &first.digest;
        assert_eq!(
            cwasm_files(dir.path()),
            [format!("{digest}-{}.cwasm", engine.cranelift.artifact_key)]
        );
        assert_ne!(
            engine.cranelift.artifact_key,
            engine.winch.as_ref().unwrap().artifact_key
        );
        // A restart loads it from disk: no Winch, no compile.
        let restarted = Arc::new(ArtifactCache::new(dir.path().to_owned()));
        let again = restarted.load(engine, &path).unwrap();
        assert_eq!((again.compiler, again.compiled), ("Cranelift", false));
        assert_eq!(restarted.background_compiles(), 0);
    }

    #[test]
    fn containers_with_and_without_a_fuel_meter_get_code_of_their_own() {
        let g = engine(false);
        let (plain, metered) = (g.tiers(None), g.tiers(Some(1_000)));
        assert!(!plain.fuel && metered.fuel);
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(ArtifactCache::new(dir.path().to_owned()));
        let path = PathBuf::from(format!("{GUESTS}/echo.wasm"));
        let a = cache.load(plain, &path).unwrap();
        let b = cache.load(metered, &path).unwrap();
        assert!(a.compiled && b.compiled, "one compile per engine");
        assert!(wasmtime::Engine::same(
            engine_of(&a.entry),
            &plain.cranelift.engine
        ));
        assert!(wasmtime::Engine::same(
            engine_of(&b.entry),
            &metered.cranelift.engine
        ));
        assert_ne!(plain.cranelift.artifact_key, metered.cranelift.artifact_key);
        assert_eq!(cwasm_files(dir.path()).len(), 2);
        // Each is remembered for its own engine.
        let again = cache.load(metered, &path).unwrap();
        assert!(!again.compiled);
        assert!(wasmtime::Engine::same(
            engine_of(&again.entry),
            &metered.cranelift.engine
        ));
        // Evicting the image forgets both.
        cache.forget(&a.digest);
        assert!(cwasm_files(dir.path()).is_empty());
        assert!(cache.load(plain, &path).unwrap().compiled);
    }

    #[test]
    fn without_tiering_a_cold_start_waits_for_cranelift() {
        let g = engine(false);
        let engine = g.tiers(None);
        assert!(engine.winch.is_none());
        let dir = tempfile::tempdir().unwrap();
        let cache = Arc::new(ArtifactCache::new(dir.path().to_owned()));
        let p = cache
            .load(engine, Path::new(&format!("{GUESTS}/echo.wasm")))
            .unwrap();
        assert_eq!((p.compiler, p.compiled), ("Cranelift", true));
        assert!(p.upgrade.is_none());
        assert_eq!(cwasm_files(dir.path()).len(), 1);
    }

    #[test]
    fn every_guest_compiles_and_links_on_winch() {
        let g = engine(true);
        let engine = g.tiers(None);
        let winch = engine.winch.as_ref().unwrap();
        let mut failed = Vec::new();
        let mut n = 0;
        for e in std::fs::read_dir(GUESTS).unwrap() {
            let path = e.unwrap().path();
            if path.extension().is_none_or(|x| x != "wasm") {
                continue;
            }
            n += 1;
            let bytes = std::fs::read(&path).unwrap();
            let result = compile(winch, &bytes, &path)
                .and_then(|c| prepare(winch, &deserialize(winch, &c, &path)?, &path));
            if let Err(e) = result {
                failed.push(format!("{}: {e}", path.display()));
            }
        }
        assert!(n >= 10, "only {n} guests in {GUESTS}");
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn a_component_winch_cannot_compile_falls_back_to_cranelift() {
        // Tail calls: Cranelift has them, Winch does not.
        let wasm = wat::parse_str(
            r#"(component
                 (core module $m
                   (func $f (result i32) i32.const 1)
                   (func (export "g") (result i32) return_call $f))
                 (core instance (instantiate $m)))"#,
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tail-call.wasm");
        std::fs::write(&path, &wasm).unwrap();
        let g = engine(true);
        let winch = g.tiers(None);
        let cache_dir = dir.path().join("cache");
        let cache = Arc::new(ArtifactCache::new(cache_dir.clone()));
        // Cranelift compiled it (its artifact is cached); linking then finds no entry point.
        let err = cache.load(winch, &path).err().unwrap();
        assert!(matches!(err, ArtifactError::Link { .. }), "{err}");
        assert_eq!(
            cwasm_files(&cache_dir),
            [format!(
                "{}-{}.cwasm",
                hex::encode(Sha256::digest(&wasm)),
                winch.cranelift.artifact_key
            )]
        );
        assert_eq!(cache.background_compiles(), 0);
    }

    #[test]
    fn background_compiles_wait_for_foreground_ones() {
        let slots = Arc::new(CompileSlots::new(1));
        let held = slots.take();
        let (tx, rx) = std::sync::mpsc::channel();
        let (s, t) = (slots.clone(), tx.clone());
        let background = std::thread::spawn(move || {
            let _slot = s.take_background();
            t.send("background").unwrap();
        });
        // Whether or not the background compile is already waiting, a foreground one that
        // waits when the slot frees goes first.
        let s = slots.clone();
        let foreground = std::thread::spawn(move || {
            let _slot = s.take();
            tx.send("foreground").unwrap();
        });
        while lock(&slots.state).waiting == 0 {
            std::thread::yield_now();
        }
        drop(held);
        assert_eq!(rx.recv().unwrap(), "foreground");
        assert_eq!(rx.recv().unwrap(), "background");
        background.join().unwrap();
        foreground.join().unwrap();
    }

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
        assert_eq!(lock(&slots.state).busy, 0);
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
