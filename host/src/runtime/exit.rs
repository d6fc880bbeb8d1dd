//! How a container ended, and the one classifier of the error that ended a guest call: a
//! command's `wasi:cli/run` and an HTTP request's `handle` are judged by the same rules, then
//! each path reports it its own way (an ECS exit and reason, or a 500/503).

use super::limits::{ContainerLimiter, OomKilled};
use super::stdio::OutputPermitExceeded;
use wasmtime::Trap;
use wasmtime::component::ResourceTableError;
use wasmtime_wasi::I32Exit;

/// ECS's wording for a container the OOM killer ended, and the exit code of SIGKILL.
pub const OOM_REASON: &str = "OutOfMemoryError: container killed due to memory usage";
pub const KILLED_EXIT_CODE: i32 = 137;

/// How a container ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exit {
    /// The code the guest gave; None when it never gave one (a trap, a failed start).
    pub exit_code: Option<i32>,
    pub reason: Option<String>,
}

impl Exit {
    pub(super) fn code(code: i32) -> Self {
        Self {
            exit_code: Some(code),
            reason: None,
        }
    }

    pub(super) fn killed(reason: String) -> Self {
        Self {
            exit_code: Some(KILLED_EXIT_CODE),
            reason: Some(reason),
        }
    }

    pub(super) fn failed(reason: String) -> Self {
        Self {
            exit_code: None,
            reason: Some(reason),
        }
    }

    /// The reason a container whose fuel ran out is stopped with.
    pub(super) fn fuel_reason(budget: Option<u64>) -> String {
        format!(
            "FuelExhausted: container used its fuel budget of {}",
            budget.unwrap_or(u64::MAX)
        )
    }

    /// What ECS reports for a command container whose `wasi:cli/run` ended with `ended`.
    pub(super) fn of(ended: Ended, fuel_budget: Option<u64>) -> Self {
        match ended {
            Ended::Exited(code) => Exit::code(code),
            Ended::OutOfMemory(_) => Exit::killed(OOM_REASON.into()),
            Ended::OutOfFuel => Exit::killed(Exit::fuel_reason(fuel_budget)),
            Ended::OutputRefused(why) => Exit::failed(why),
            ended @ Ended::TableFull { .. } => Exit::failed(ended.describe()),
            Ended::Trap(trap) => Exit::failed(format!("WasmTrap: {trap}")),
            Ended::Error(e) => Exit::failed(format!("CannotStartContainerError: {e}")),
        }
    }
}

/// Why a guest call ended with an error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Ended {
    /// The guest called `exit` (a command's code; an HTTP handler has no business doing so).
    Exited(i32),
    /// A memory growth past the container's limit or the task's budget; the detail says which.
    OutOfMemory(String),
    /// The container's fuel budget is used up.
    OutOfFuel,
    /// The guest wrote more than its output permit allows.
    OutputRefused(String),
    /// The guest holds as many handles as its store's resource table may.
    TableFull { max: usize },
    /// Any other trap of the guest's code.
    Trap(Trap),
    /// Not the guest's code: the host could not instantiate or call it.
    Error(String),
}

impl Ended {
    /// Classifies the error `e` of a store whose limiter is `limiter` and whose resource
    /// table holds at most `max_handles`.
    pub(super) fn classify(
        e: &wasmtime::Error,
        limiter: &ContainerLimiter,
        max_handles: usize,
    ) -> Self {
        if let Some(code) = e.downcast_ref::<I32Exit>() {
            return Ended::Exited(code.0);
        }
        if e.downcast_ref::<OomKilled>().is_some() || limiter.denial().is_some() {
            let detail = limiter
                .denial()
                .map_or_else(|| format!("{e:#}"), |d| d.to_string());
            return Ended::OutOfMemory(detail);
        }
        if let Some(refused) = e.downcast_ref::<OutputPermitExceeded>() {
            return Ended::OutputRefused(refused.to_string());
        }
        let table_full = |c: &(dyn std::error::Error + 'static)| {
            matches!(
                c.downcast_ref::<ResourceTableError>(),
                Some(ResourceTableError::Full)
            )
        };
        if e.chain().any(table_full) {
            return Ended::TableFull { max: max_handles };
        }
        match e.downcast_ref::<Trap>() {
            Some(Trap::OutOfFuel) => Ended::OutOfFuel,
            Some(trap) => Ended::Trap(*trap),
            None => Ended::Error(format!("{e:#}")),
        }
    }

    /// A one-line description for the reasons without a path-specific wording.
    pub(super) fn describe(&self) -> String {
        match self {
            Ended::Exited(code) => format!("the guest exited with code {code}"),
            Ended::OutOfMemory(detail) => format!("OutOfMemoryError: {detail}"),
            Ended::OutOfFuel => "FuelExhausted: the container used its fuel budget".into(),
            Ended::OutputRefused(why) => why.clone(),
            Ended::TableFull { max } => format!(
                "ResourceLimitExceeded: the guest's resource table is full ({max} handles, \
                 [limits] max_handles_per_instance)"
            ),
            Ended::Trap(trap) => format!("WasmTrap: {trap}"),
            Ended::Error(e) => e.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::limits::TaskMemory;

    fn limiter() -> ContainerLimiter {
        ContainerLimiter::new(TaskMemory::new(u64::MAX), None)
    }

    #[test]
    fn a_full_resource_table_gets_its_own_reason() {
        let e = wasmtime::Error::new(ResourceTableError::Full);
        let ended = Ended::classify(&e, &limiter(), 8192);
        assert_eq!(ended, Ended::TableFull { max: 8192 });
        let exit = Exit::of(ended, None);
        let reason = exit.reason.unwrap_or_default();
        assert!(reason.starts_with("ResourceLimitExceeded: "), "{reason}");
        assert!(
            reason.contains("resource table") && reason.contains("8192"),
            "{reason}"
        );
    }

    #[test]
    fn exit_codes_traps_and_fuel_are_told_apart() {
        let l = limiter();
        let exit = |e: wasmtime::Error| Exit::of(Ended::classify(&e, &l, 1), Some(5));
        assert_eq!(exit(wasmtime::Error::new(I32Exit(3))), Exit::code(3));
        assert_eq!(
            exit(wasmtime::Error::new(Trap::OutOfFuel)),
            Exit::killed("FuelExhausted: container used its fuel budget of 5".into())
        );
        assert_eq!(
            exit(wasmtime::Error::new(Trap::UnreachableCodeReached)).reason,
            Some(format!("WasmTrap: {}", Trap::UnreachableCodeReached))
        );
        assert!(
            exit(wasmtime::Error::msg("no such import"))
                .reason
                .is_some_and(|r| r.starts_with("CannotStartContainerError: "))
        );
    }

    #[test]
    fn a_refused_growth_is_an_oom_kill_with_the_ecs_reason() {
        use wasmtime::ResourceLimiter;
        let mut l = ContainerLimiter::new(TaskMemory::new(u64::MAX), Some(1024));
        let e = l.memory_growing(0, 1 << 20, None).unwrap_err();
        let ended = Ended::classify(&e, &l, 1);
        assert!(matches!(ended, Ended::OutOfMemory(_)), "{ended:?}");
        assert_eq!(Exit::of(ended, None), Exit::killed(OOM_REASON.into()));
    }
}
