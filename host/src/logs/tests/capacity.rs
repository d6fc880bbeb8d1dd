use super::*;

const KIB: u64 = 1024;

fn file_store(dir: &tempfile::TempDir) -> Result<LogStore, LogError> {
    LogStore::open(&dir.path().join("logs.db"))
}

fn tempdir() -> Result<tempfile::TempDir, LogError> {
    tempfile::tempdir().map_err(|e| LogError::invalid("tempdir", e.to_string()))
}

/// Batches of 100 events of ~200 bytes, `msg-<batch>-<i>`, later batches later in time
/// (as the runtime stamps lines).
fn batch(b: i64) -> Vec<LogEvent> {
    (0..100)
        .map(|i| LogEvent::new(b * 1_000 + i, format!("msg-{b}-{i}-{}", "x".repeat(200))))
        .collect()
}

#[test]
fn over_the_cap_the_oldest_events_go_first() -> TestResult {
    let dir = tempdir()?;
    let s = file_store(&dir)?;
    let cap = 512 * KIB;
    s.set_max_bytes(Some(cap));
    // ~2 MB into a 512 KiB store; group "early" only at the start.
    s.put_events("early", "s", &batch(0))?;
    for b in 1..100 {
        s.put_events("late", "s", &batch(b))?;
        let stats = s.stats()?;
        assert!(
            stats.used_bytes <= cap,
            "batch {b}: {} bytes in use over the cap",
            stats.used_bytes
        );
    }
    // The early group's events were the oldest: all gone; the newest batch is all there.
    assert!(s.get_events(&get("early", "s"))?.events.is_empty());
    let newest = s.filter_events(&super::super::FilterEvents {
        group: "late".into(),
        filter_pattern: Some("msg-99".into()),
        ..Default::default()
    })?;
    assert_eq!(newest.events.len(), 100);
    // storedBytes follows what is left.
    let stats = s.stats()?;
    let late = s.describe_groups(Some("late"), 1, None)?.groups[0].stored_bytes;
    let left = s.get_events(&get("late", "s"))?;
    let sum: usize = left.events.iter().map(|e| e.message.len()).sum();
    assert_eq!(usize::try_from(late).ok(), Some(sum));
    assert_eq!(stats.stored_bytes, u64::try_from(sum).unwrap_or(0));
    assert_eq!(stats.events, u64::try_from(left.events.len()).unwrap_or(0));
    assert!(stats.events < 2_500, "{stats:?}");
    // The file itself stays near the cap: freed pages are reused.
    let db = std::fs::metadata(dir.path().join("logs.db"))
        .map(|m| m.len())
        .unwrap_or(u64::MAX);
    assert!(
        db <= cap * 2,
        "database file of {db} bytes for a {cap} byte cap"
    );
    Ok(())
}

#[test]
fn lowering_the_cap_evicts_on_the_next_sweep() -> TestResult {
    let dir = tempdir()?;
    let s = file_store(&dir)?;
    for b in 0..40 {
        s.put_events("g", "s", &batch(b))?;
    }
    let before = s.stats()?;
    assert_eq!(before.max_bytes, None);
    assert_eq!(before.events, 4_000);
    let cap = before.used_bytes / 4;
    s.set_max_bytes(Some(cap));
    assert!(s.enforce_max_bytes()? > 0);
    let after = s.stats()?;
    assert!(after.used_bytes <= cap, "{after:?}");
    assert_eq!(after.max_bytes, Some(cap));
    // Under the cap there is nothing to do.
    assert_eq!(s.enforce_max_bytes()?, 0);
    Ok(())
}

#[test]
fn stats_count_what_is_stored() -> TestResult {
    let dir = tempdir()?;
    let s = file_store(&dir)?;
    s.ensure_group("empty")?;
    s.put_events("g", "a", &[LogEvent::new(1, "12345")])?;
    s.put_events("g", "b", &[LogEvent::new(1, "67")])?;
    let st = s.stats()?;
    assert_eq!(
        (st.groups, st.streams, st.events, st.stored_bytes),
        (2, 2, 2, 7)
    );
    assert!(
        st.file_bytes >= st.used_bytes && st.used_bytes > 0,
        "{st:?}"
    );
    let mem = store()?.stats()?;
    assert_eq!(mem.file_bytes, 0);
    Ok(())
}
