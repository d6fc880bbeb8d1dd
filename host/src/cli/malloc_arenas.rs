//! glibc's allocator gives a thread its own arena once threads contend, up to eight per
//! core. A host's runtime threads all take turns at the same per-second work (the
//! metrics publisher, the state store's writes), so each arena ends up holding the freed
//! pieces of that work: with 2,000 idle tasks, RSS per task grew from ~135 KiB to
//! ~210 KiB within a minute while the live heap stayed at ~85 KB (BENCHMARKS.md,
//! issue 15). One arena per core keeps it at ~150 KiB.

/// Caps glibc's malloc arenas at one per core, unless `MALLOC_ARENA_MAX` says otherwise.
pub fn one_arena_per_core() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
            return;
        }
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a tunable; called before the runtime's threads start.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}
