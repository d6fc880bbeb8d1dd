//! One request in one fresh instance: a new `Store` (the container's WASI context, a limiter
//! charging the container's shared memory budget, fuel, the epoch yield), the pre-instantiated
//! component instantiated into it from the pooling allocator, `incoming-handler.handle`
//! called, all under the container's CPU share. The instance lives on in its own tokio task
//! while the response body streams; its store is dropped (memory given back) when it ends.

use super::HttpService;
use super::admission::Busy;
use super::reuse::InstanceReuse;
use crate::runtime::cpu::Throttled;
use crate::runtime::engine::HttpSlot;
use crate::runtime::exit::{Ended, Exit};
use crate::runtime::guest_state::GuestState;
use crate::runtime::limits::ContainerLimiter;
use crate::runtime::store::{MeteredStore, StoreBuilder, fuel_left};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::sync::Arc;
use tokio::sync::oneshot;
use wasmtime::PoolConcurrencyLimitError;
use wasmtime_wasi_http::WasiHttpView;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::{Proxy, ProxyPre};
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;

/// What a request runs in.
struct Instance {
    metered: MeteredStore,
    /// The instantiated component of a reused store; `None`: instantiate it first.
    proxy: Option<Proxy>,
    /// What a fresh store instantiates: made on the same engine as the store (Winch's or,
    /// once tiered compilation has finished, Cranelift's).
    pre: ProxyPre<GuestState>,
    /// Requests this instance has served before.
    served: u64,
    slot: HttpSlot,
}

/// How a request's instance ended, when it did not end well.
#[derive(Debug)]
pub(super) enum Failure {
    /// The container is closed (stopped): nothing serves this request.
    Closed,
    /// The container or the host has no room for it now (limits, queue, pool share).
    Busy(Busy),
    /// The instance could not be made: memory (the container's limit or the task's budget
    /// is held by other requests) or another start error.
    Start { oom: bool, message: String },
    /// The guest trapped; `oom` when a memory growth past the limit killed it.
    Trap { oom: bool, message: String },
    /// The container's fuel budget is used up.
    OutOfFuel,
    /// `handle` returned without setting a response.
    NoResponse,
    /// The guest answered with an error code instead of a response.
    ErrorCode(String),
}

impl Failure {
    /// A request whose `handle` call ended with `e`, classified as `ended`.
    fn from(ended: Ended, e: &wasmtime::Error) -> Self {
        match ended {
            Ended::OutOfMemory(message) => Failure::Trap { oom: true, message },
            Ended::OutOfFuel => Failure::OutOfFuel,
            Ended::Trap(trap) => Failure::Trap {
                oom: false,
                message: trap.to_string(),
            },
            ended @ (Ended::OutputRefused(_) | Ended::TableFull { .. }) => Failure::Trap {
                oom: false,
                message: ended.describe(),
            },
            Ended::Exited(_) | Ended::Error(_) => Failure::Trap {
                oom: false,
                message: format!("error: {e:#}"),
            },
        }
    }

    /// The status a client gets for it.
    fn status(&self) -> u16 {
        match self {
            Failure::Closed
            | Failure::Busy(_)
            | Failure::Start { oom: true, .. }
            | Failure::OutOfFuel => 503,
            _ => 500,
        }
    }

    fn describe(&self) -> String {
        match self {
            Failure::Closed => "the container is stopping".into(),
            Failure::Busy(busy) => busy.describe(),
            Failure::Start { oom: true, message } => {
                format!("no memory for a new instance: {message}")
            }
            Failure::Start { message, .. } => format!("cannot instantiate: {message}"),
            Failure::Trap { oom: true, message } => {
                format!("OutOfMemoryError: request killed due to memory usage: {message}")
            }
            Failure::Trap { message, .. } => message.clone(),
            Failure::OutOfFuel => "FuelExhausted: the container used its fuel budget".into(),
            Failure::NoResponse => "the component returned without a response".into(),
            Failure::ErrorCode(code) => format!("the component answered with error {code}"),
        }
    }

    /// The response the client gets. A refusal says why (it is about limits, not the
    /// guest's code) and when to come back.
    pub(super) fn response(&self) -> hyper::Response<HyperOutgoingBody> {
        let status = self.status();
        let text = match (status, self) {
            (503, Failure::Busy(busy)) => format!(
                "503 Service Unavailable: {}; retry later\n",
                busy.describe()
            ),
            (503, _) => {
                "503 Service Unavailable: the container cannot take this request now\n".into()
            }
            _ => "500 Internal Server Error: the component failed to handle the request\n".into(),
        };
        let mut resp = hyper::Response::new(body(text));
        *resp.status_mut() =
            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
        let headers = resp.headers_mut();
        headers.insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("text/plain"),
        );
        if status == 503 {
            headers.insert(
                hyper::header::RETRY_AFTER,
                hyper::header::HeaderValue::from_static(RETRY_AFTER_SECONDS),
            );
        }
        resp
    }
}

/// What a 503 tells a client to wait before it tries again.
const RETRY_AFTER_SECONDS: &str = "1";

fn body(text: String) -> HyperOutgoingBody {
    Full::new(Bytes::from(text))
        .map_err(|never| match never {})
        .boxed_unsync()
}

impl HttpService {
    /// Serves one request in a fresh instance. Always answers: a failure becomes a
    /// host-made 500 (or 503), logged to the container's stderr stream.
    pub(super) async fn handle<B>(
        self: &Arc<Self>,
        req: hyper::Request<B>,
    ) -> hyper::Response<HyperOutgoingBody>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        match self.try_handle(req).await {
            Ok(resp) => resp,
            Err(f) => f.response(),
        }
    }

    /// Like `handle`, but a failure is returned (an in-process caller maps `Closed` to a
    /// refused connection).
    pub(super) async fn try_handle<B>(
        self: &Arc<Self>,
        req: hyper::Request<B>,
    ) -> Result<hyper::Response<HyperOutgoingBody>, Failure>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<wasmtime_wasi_http::Error>,
    {
        let what = format!(
            "{} {}",
            req.method(),
            req.uri().path_and_query().map_or("/", |p| p.as_str())
        );
        let Some(guard) = self.in_flight.enter() else {
            return Err(Failure::Closed);
        };
        if self.fuel && self.fuel_left() == 0 {
            return Err(Failure::OutOfFuel);
        }
        // Held until the request ends (also while its response body streams).
        let place = match self.admission.place().await {
            Ok(p) => p,
            Err(busy) => return Err(self.refused(busy)),
        };
        let instance = match self.instance() {
            Ok(i) => i,
            Err(f) => {
                if let Failure::Busy(busy) = f {
                    return Err(self.refused(busy));
                }
                self.log_failure(&what, &f);
                return Err(f);
            }
        };
        let Instance {
            mut metered,
            proxy,
            pre,
            served,
            slot,
        } = instance;
        let prepared = (|| {
            let (tx, rx) = oneshot::channel();
            let mut http = metered.store.data_mut().http();
            let req = http.new_incoming_request(Scheme::Http, req)?;
            let out = http.new_response_outparam(tx)?;
            anyhow::Ok((req, out, rx))
        })();
        let (req, out, rx) = match prepared {
            Ok(p) => p,
            Err(e) => {
                let f = Failure::Start {
                    oom: false,
                    message: format!("{e:#}"),
                };
                self.log_failure(&what, &f);
                return Err(f);
            }
        };

        let svc = self.clone();
        let what2 = what.clone();
        let run = async move {
            let what = what2;
            let _guard = guard;
            let _place = place;
            let store = &mut metered.store;
            let started = match proxy {
                Some(proxy) => Ok(proxy),
                None => match pre.instantiate_async(&mut *store).await {
                    Ok(proxy) => Ok(proxy),
                    // Command containers hold the rest of the pool: not the guest's fault.
                    Err(e) if is_pool_full(&e) => {
                        Err(Failure::Busy(Busy::PoolExhausted(format!("{e:#}"))))
                    }
                    Err(e) => Err(Failure::Start {
                        oom: matches!(svc.ended(&e, store), Ended::OutOfMemory(_)),
                        message: format!("{e:#}"),
                    }),
                },
            };
            let outcome = match started {
                Ok(proxy) => proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut *store, req, out)
                    .await
                    .map(|()| proxy)
                    .map_err(|e| Failure::from(svc.ended(&e, store), &e)),
                Err(f) => Err(f),
            };
            metered.record();
            match outcome {
                // Only an instance that ended its request well serves another.
                Ok(proxy) => {
                    svc.keep(metered, proxy, served + 1, slot);
                    Ok(())
                }
                Err(f) => {
                    match &f {
                        Failure::Busy(busy) => {
                            if let Some(line) = svc.admission.refusal_line(busy) {
                                svc.log_failure_line(&line);
                            }
                        }
                        _ => svc.log_failure(&what, &f),
                    }
                    if matches!(f, Failure::OutOfFuel) && svc.fuel_left() == 0 {
                        svc.set_fatal(Exit::fuel_reason(svc.launch.fuel_budget));
                    }
                    Err(f)
                }
            }
        };
        let task = self.spawn(Throttled::sharing(
            run,
            self.cpu.clone(),
            self.meters.cpu.clone(),
        ));
        match rx.await {
            Ok(Ok(resp)) => Ok(resp),
            Ok(Err(code)) => {
                let f = Failure::ErrorCode(format!("{code:?}"));
                self.log_failure_line(&format!("{what}: {}", f.describe()));
                Err(f)
            }
            // The guest never set a response: its end says why.
            Err(_) => match task.await {
                Ok(Some(Ok(()))) => {
                    let f = Failure::NoResponse;
                    self.log_failure(&what, &f);
                    Err(f)
                }
                Ok(Some(Err(f))) => Err(f),
                // The container ended (killed) while this request ran.
                Ok(None) => Err(Failure::Closed),
                Err(join) => Err(Failure::Trap {
                    oom: false,
                    message: join.to_string(),
                }),
            },
        }
    }

    /// The instance a request runs in: an idle one of the container (with reuse on), or a
    /// fresh store with its own pool slot (instantiated in the request's own task, under
    /// the CPU share).
    fn instance(&self) -> Result<Instance, Failure> {
        if let Some(idle) = self.idle.take() {
            let mut metered = idle.metered;
            return match metered.refuel(self.launch.fuel_budget) {
                Ok(()) => Ok(Instance {
                    metered,
                    proxy: Some(idle.proxy),
                    pre: self.pre.clone(),
                    served: idle.served,
                    slot: idle.slot,
                }),
                Err(e) => Err(Failure::Start {
                    oom: false,
                    message: format!("{e:#}"),
                }),
            };
        }
        let slot = self.admission.slot().map_err(Failure::Busy)?;
        let pre = self.request_pre();
        let metered = self.new_store(&pre).map_err(|e| Failure::Start {
            oom: false,
            message: format!("{e:#}"),
        })?;
        Ok(Instance {
            metered,
            proxy: None,
            pre,
            served: 0,
            slot,
        })
    }

    /// After a request that ended well: the instance waits for the next request if the
    /// container reuses instances and it has not served its maximum; else it is dropped.
    fn keep(&self, metered: MeteredStore, proxy: Proxy, served: u64, slot: HttpSlot) {
        let InstanceReuse::Sequential { max_requests } = self.launch.instance_reuse else {
            return;
        };
        if served < max_requests && !self.in_flight.is_closed() {
            self.idle.put(metered, proxy, served, slot);
        }
    }

    /// A refusal before any instance: counted, logged now and then.
    fn refused(&self, busy: Busy) -> Failure {
        if let Some(line) = self.admission.refusal_line(&busy) {
            self.log_failure_line(&line);
        }
        Failure::Busy(busy)
    }

    /// A fresh store for one request: its memory is charged to the container's shared
    /// limit and the task's budget, its fuel to the container's meter.
    fn new_store(&self, pre: &ProxyPre<GuestState>) -> anyhow::Result<MeteredStore> {
        let builder = StoreBuilder {
            engine: pre.engine(),
            fuel: self.fuel,
            launch: &self.launch,
            quota: &self.quota,
            meters: &self.meters,
        };
        builder.build(ContainerLimiter::pooled(
            self.task_memory.clone(),
            self.memory.clone(),
        ))
    }

    /// Fuel the container may still use (all of it without a budget).
    fn fuel_left(&self) -> u64 {
        fuel_left(self.launch.fuel_budget, &self.meters)
    }

    fn ended(&self, e: &wasmtime::Error, store: &wasmtime::Store<GuestState>) -> Ended {
        Ended::classify(e, &store.data().limiter, self.launch.max_handles)
    }

    fn log_failure(&self, what: &str, f: &Failure) {
        self.log_failure_line(&format!("{what}: {} ({})", f.describe(), f.status()));
    }

    /// One line in the container's stderr log stream, from the host.
    fn log_failure_line(&self, message: &str) {
        self.launch
            .stderr
            .host_line(&format!("wasmgate: request {message}"));
    }
}

fn is_pool_full(e: &wasmtime::Error) -> bool {
    e.downcast_ref::<PoolConcurrencyLimitError>().is_some()
        || e.chain().any(|c| c.is::<PoolConcurrencyLimitError>())
}
