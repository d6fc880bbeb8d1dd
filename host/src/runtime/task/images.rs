//! Resolves, pulls and prepares every container's component before any starts.

use super::Driver;
use crate::runtime::artifacts::Prepared;
use crate::runtime::http;
use crate::runtime::image;
use crate::runtime::status::TaskEvent;
use std::time::{Duration, SystemTime};

/// One distinct component's load: on a blocking thread, then its result for every
/// container that runs it.
enum Load {
    Running(
        tokio::task::JoinHandle<Result<Prepared, crate::runtime::artifacts::ArtifactError>>,
        std::time::Instant,
    ),
    Done(Prepared),
}

/// How long a component may take to load before watchers are told it is compiling.
const COMPILE_NOTICE_AFTER: Duration = Duration::from_millis(250);

impl Driver {
    /// Resolves, pulls (registry images) and prepares every container's component. The
    /// leases keep pulled blobs from eviction; the caller holds them until STOPPED.
    /// `registry`: by container place, the value of a `repositoryCredentials` secret read
    /// as the execution role (see `runtime::secrets`).
    pub(super) async fn load_images(
        &self,
        leases: &mut Vec<crate::images::ImageLease>,
        registry: &[Option<String>],
    ) -> Result<Vec<Prepared>, (usize, String)> {
        self.snapshot
            .send_modify(|s| s.pull_started_at = Some(SystemTime::now()));
        let result = self.load_images_inner(leases, registry).await;
        self.snapshot
            .send_modify(|s| s.pull_stopped_at = Some(SystemTime::now()));
        result
    }

    pub(super) async fn load_images_inner(
        &self,
        leases: &mut Vec<crate::images::ImageLease>,
        registry: &[Option<String>],
    ) -> Result<Vec<Prepared>, (usize, String)> {
        let fail = |i: usize, e: String| (i, format!("CannotPullContainerError: {e}"));
        // Resolve and pull first (pulls of one image are coalesced by the store)...
        let mut sources = Vec::with_capacity(self.plans.len());
        for (i, plan) in self.plans.iter().enumerate() {
            let source = image::resolve(&plan.def.image, &self.base_dir)
                .map_err(|e| fail(i, e.to_string()))?;
            sources.push(match source {
                image::ImageSource::File(path) => {
                    image::check_file(&path, &self.shared.config.data_dir())
                        .map_err(|e| fail(i, e.to_string()))?;
                    self.check_readable(&plan.def.image, &path)
                        .map_err(|e| fail(i, e))?;
                    (path, None)
                }
                image::ImageSource::Registry(reference) => {
                    let pulled = self
                        .pull(
                            &plan.def,
                            &reference,
                            registry.get(i).and_then(Option::as_deref),
                        )
                        .await
                        .map_err(|e| fail(i, e.to_string()))?;
                    let digest = pulled.manifest_digest.clone();
                    let path = pulled.path.clone();
                    leases.push(pulled.lease);
                    (path, Some(digest))
                }
            });
        }
        // ...then load every distinct component at once: a cold task with several images
        // compiles them side by side (the cache bounds compiles by the CPU count). Distinct
        // by engine too: a container with a fuel meter runs code of its own.
        let mut loads: Vec<((std::path::PathBuf, bool), Load)> = Vec::new();
        let mut load_of = Vec::with_capacity(sources.len());
        for (plan, (path, _)) in self.plans.iter().zip(&sources) {
            let budget = plan.fuel_budget;
            let key = (path.clone(), self.shared.engine.meters_fuel(budget));
            let k = match loads.iter().position(|(k, _)| *k == key) {
                Some(k) => k,
                None => {
                    let (shared, p) = (self.shared.clone(), path.clone());
                    let load = tokio::task::spawn_blocking(move || {
                        shared.artifacts.load(shared.engine.tiers(budget), &p)
                    });
                    loads.push((key, Load::Running(load, std::time::Instant::now())));
                    loads.len() - 1
                }
            };
            load_of.push(k);
        }
        let mut out = Vec::with_capacity(self.plans.len());
        for (i, ((plan, (_, image_digest)), k)) in
            self.plans.iter().zip(sources).zip(load_of).enumerate()
        {
            let prepared = match &mut loads[k].1 {
                Load::Done(p) => p.clone(),
                Load::Running(load, started) => {
                    let started = *started;
                    // A cached component loads in well under a millisecond; only a compile
                    // takes long enough for a watcher to want to know.
                    let loaded = match tokio::time::timeout(COMPILE_NOTICE_AFTER, &mut *load).await
                    {
                        Ok(done) => done,
                        Err(_) => {
                            let _ = self.events.send(TaskEvent::Compiling {
                                container: plan.def.name.clone(),
                            });
                            load.await
                        }
                    };
                    let prepared = loaded
                        .map_err(|e| fail(i, e.to_string()))?
                        .map_err(|e| fail(i, e.to_string()))?;
                    if prepared.compiled {
                        self.notice(format!(
                            "compiled {} ({}) with {} in {} ms ({} compiling at once)",
                            plan.def.image,
                            &prepared.digest[..12],
                            prepared.compiler,
                            started.elapsed().as_millis(),
                            prepared.compiles_at_once
                        ));
                    }
                    loads[k].1 = Load::Done(prepared.clone());
                    prepared
                }
            };
            let image_digest =
                image_digest.unwrap_or_else(|| format!("sha256:{}", prepared.digest));
            self.snapshot.send_modify(|s| {
                s.containers[i].image_digest = Some(image_digest);
            });
            if http::is_http(&prepared) && http::tcp_ports(&plan.def).is_empty() {
                return Err((i, http::no_ports_error(i, &plan.def.name)));
            }
            if plan.instance_reuse.is_on() && !http::is_http(&prepared) {
                return Err((i, http::not_http_error(i, &plan.def.name)));
            }
            out.push(prepared);
        }
        Ok(out)
    }

    /// A file image that cannot be read fails with the absolute path tried, why, and (for a
    /// relative `image`) the folder it was resolved against: `run` uses the definition
    /// file's, `serve` its `image_root`.
    fn check_readable(&self, image: &str, path: &std::path::Path) -> Result<(), String> {
        let problem = match std::fs::metadata(path) {
            Ok(m) if m.is_file() => return Ok(()),
            Ok(_) => "not a file".to_owned(),
            Err(e) => e.to_string(),
        };
        let shown = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
        let relative =
            std::path::Path::new(image.trim().trim_start_matches("file://")).is_relative();
        let hint = if relative {
            format!(
                " (the relative image {image:?} resolves against {})",
                self.base_dir.display()
            )
        } else {
            String::new()
        };
        Err(format!(
            "cannot read component {}: {problem}{hint}",
            shown.display()
        ))
    }

    /// Pulls one registry image with the container's credentials, reporting as it goes.
    /// `secret`: the value of the container's `repositoryCredentials` secret when that is
    /// a Secrets Manager ARN (read as the execution role before any pull).
    pub(super) async fn pull(
        &self,
        def: &crate::taskdef::ContainerDefinition,
        reference: &crate::images::ImageRef,
        secret: Option<&str>,
    ) -> Result<crate::images::PulledImage, crate::images::PullError> {
        use crate::images::PullProgress;
        let credentials = match (crate::runtime::secrets::registry_secret(def), secret) {
            (Some(arn), Some(value)) => crate::images::credentials_from_value(arn, value)?,
            _ => {
                let parameter = def
                    .repository_credentials
                    .as_ref()
                    .map(|c| c.credentials_parameter.as_str());
                crate::images::credentials(&self.shared.config, reference.registry(), parameter)?
            }
        };
        let name = def.name.clone();
        let events = self.events.clone();
        let report = move |p: PullProgress| {
            let event = match p {
                PullProgress::Notice(m) => TaskEvent::Notice(format!("{name}: {m}")),
                PullProgress::Bytes { done, total } => TaskEvent::PullProgress {
                    container: name.clone(),
                    done,
                    total,
                },
            };
            let _ = events.send(event);
        };
        self.shared
            .images
            .pull(reference, &credentials, &report)
            .await
    }
}
