use std::thread;

use super::super::FilterEvents;
use super::*;

const BATCHES: i64 = 40;
const PER_BATCH: i64 = 100;

#[test]
fn second_connection_reads_while_a_writer_writes() -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| LogError::invalid("tempdir", e.to_string()))?;
    let path = dir.path().join("logs.db");
    let writer = LogStore::open(&path)?;
    writer.ensure_group("g")?;
    // Stands in for a second process: its own connections to the same file.
    let reader = LogStore::open(&path)?;
    let writing = thread::spawn(move || -> TestResult {
        for b in 0..BATCHES {
            writer.put_events("g", "s", &numbered(b * PER_BATCH, 0..PER_BATCH))?;
        }
        Ok(())
    });
    let mut last = 0;
    let mut token = None;
    loop {
        // Sampled before reading, so the final read sees everything the writer wrote.
        let done = writing.is_finished();
        let page = match reader.get_events(&GetEvents {
            start_from_head: true,
            next_token: token.clone(),
            ..get("g", "s")
        }) {
            Err(LogError::StreamNotFound { .. }) if !done => continue,
            other => other?,
        };
        let n = i64::try_from(page.events.len()).unwrap_or(0);
        // Batches are atomic: a reader never sees part of one.
        assert_eq!(n % PER_BATCH, 0, "saw a partial batch");
        last += n;
        token = Some(page.next_forward_token);
        if done && n == 0 {
            break;
        }
    }
    writing
        .join()
        .map_err(|_| LogError::invalid("thread", "writer panicked"))??;
    assert_eq!(last, BATCHES * PER_BATCH);
    Ok(())
}

#[test]
fn two_processes_write_the_same_file() -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| LogError::invalid("tempdir", e.to_string()))?;
    let path = dir.path().join("logs.db");
    let handles: Vec<_> = (0..2)
        .map(|w| {
            let path = path.clone();
            thread::spawn(move || -> TestResult {
                let store = LogStore::open(&path)?;
                for b in 0..10 {
                    store.put_events("g", &format!("s{w}"), &numbered(b * 10, 0..10))?;
                }
                Ok(())
            })
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| LogError::invalid("thread", "writer panicked"))??;
    }
    let store = LogStore::open(&path)?;
    let all = store.filter_events(&FilterEvents {
        group: "g".into(),
        ..FilterEvents::default()
    })?;
    assert_eq!(all.events.len(), 200);
    Ok(())
}

#[test]
fn shared_handle_across_threads() -> TestResult {
    let s = store()?;
    let handles: Vec<_> = (0..4)
        .map(|w| {
            let s = s.clone();
            thread::spawn(move || s.put_events("g", &format!("s{w}"), &numbered(0, 0..250)))
        })
        .collect();
    for h in handles {
        h.join()
            .map_err(|_| LogError::invalid("thread", "writer panicked"))??;
    }
    assert_eq!(
        s.describe_streams("g", None, false, false, 50, None)?
            .streams
            .len(),
        4
    );
    Ok(())
}

#[test]
fn ten_thousand_events_in_one_batch() -> TestResult {
    let dir = tempfile::tempdir().map_err(|e| LogError::invalid("tempdir", e.to_string()))?;
    let s = LogStore::open(&dir.path().join("logs.db"))?;
    let batch: Vec<_> = (0..10_000)
        .map(|i| LogEvent::new(1_700_000_000_000 + i, format!("line {i} level={}", i % 3)))
        .collect();
    s.put_events("/ecs/bulk", "ecs/app/t", &batch)?;
    let page = s.get_events(&get("/ecs/bulk", "ecs/app/t"))?;
    assert_eq!(page.events.len(), 10_000);
    assert_eq!(page.events[9_999].message, "line 9999 level=0");
    let filtered = s.filter_events(&FilterEvents {
        group: "/ecs/bulk".into(),
        filter_pattern: Some("level=1".into()),
        ..FilterEvents::default()
    })?;
    assert_eq!(filtered.events.len(), 3_333);
    Ok(())
}

/// Regression: the journal-mode switch on a fresh file ignores busy_timeout.
#[test]
fn processes_open_a_fresh_file_at_once() -> TestResult {
    for _ in 0..30 {
        let dir = tempfile::tempdir().map_err(|e| LogError::invalid("tempdir", e.to_string()))?;
        let path = dir.path().join("logs.db");
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let path = path.clone();
                thread::spawn(move || LogStore::open(&path).map(drop))
            })
            .collect();
        for h in handles {
            h.join()
                .map_err(|_| LogError::invalid("thread", "opener panicked"))??;
        }
    }
    Ok(())
}
