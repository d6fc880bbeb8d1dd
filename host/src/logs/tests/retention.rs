use super::super::{GroupInfo, RETENTION_DAYS};
use super::*;

const DAY: i64 = 86_400_000;
const NOW: i64 = 1_800_000_000_000;

fn group(s: &LogStore, name: &str) -> Result<GroupInfo, LogError> {
    let page = s.describe_groups(Some(name), 1, None)?;
    page.groups
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| LogError::GroupNotFound(name.into()))
}

#[test]
fn policies_take_only_the_cloudwatch_values() -> TestResult {
    let s = store()?;
    s.ensure_group("g")?;
    assert_eq!(group(&s, "g")?.retention_in_days, None);
    for days in RETENTION_DAYS {
        s.put_retention_policy("g", i64::from(days))?;
        assert_eq!(group(&s, "g")?.retention_in_days, Some(days));
    }
    for bad in [0, 2, 4, 366, 3654, -7, i64::MAX] {
        assert!(
            matches!(
                s.put_retention_policy("g", bad),
                Err(LogError::InvalidParameter {
                    field: "retentionInDays",
                    ..
                })
            ),
            "{bad} was accepted"
        );
    }
    assert_eq!(group(&s, "g")?.retention_in_days, Some(3653));
    s.delete_retention_policy("g")?;
    assert_eq!(group(&s, "g")?.retention_in_days, None);
    assert!(matches!(
        s.put_retention_policy("none", 7),
        Err(LogError::GroupNotFound(_))
    ));
    assert!(matches!(
        s.delete_retention_policy("none"),
        Err(LogError::GroupNotFound(_))
    ));
    Ok(())
}

#[test]
fn sweep_deletes_only_expired_events_and_keeps_counts_true() -> TestResult {
    let s = store()?;
    // Ten days of events, one a day, ending now; "old" three bytes each, "new!" four.
    let events: Vec<LogEvent> = (0..10)
        .map(|d| {
            let msg = if d < 7 { "old" } else { "new!" };
            LogEvent::new(NOW - (9 - d) * DAY - 1, msg)
        })
        .collect();
    s.put_events("kept", "s", &events)?;
    s.put_events("swept", "a", &events)?;
    s.put_events("swept", "b", &events[8..])?;
    assert_eq!(group(&s, "swept")?.stored_bytes, 7 * 3 + 3 * 4 + 2 * 4);

    s.put_retention_policy("swept", 3)?;
    // Events older than three days go: the seven "old" ones of stream a.
    assert_eq!(s.sweep_expired_at(NOW)?, 7);
    let left = s.get_events(&GetEvents {
        start_from_head: true,
        ..get("swept", "a")
    })?;
    assert_eq!(messages(&left.events), ["new!", "new!", "new!"]);
    assert_eq!(group(&s, "swept")?.stored_bytes, 5 * 4);
    let streams = s.describe_streams("swept", None, false, false, 50, None)?;
    assert_eq!(streams.streams[0].stored_bytes, 12);
    assert_eq!(
        streams.streams[0].first_event_timestamp_ms,
        Some(NOW - 2 * DAY - 1),
        "the stream's first event moved to the oldest one kept"
    );
    // A group without retention keeps everything; a second sweep finds nothing more.
    assert_eq!(s.get_events(&get("kept", "s"))?.events.len(), 10);
    assert_eq!(s.sweep_expired_at(NOW)?, 0);
    // Time passes: everything expires, the streams stay (as CloudWatch keeps them).
    assert_eq!(s.sweep_expired_at(NOW + 10 * DAY)?, 5);
    assert_eq!(group(&s, "swept")?.stored_bytes, 0);
    assert_eq!(
        s.describe_streams("swept", None, false, false, 50, None)?
            .streams
            .len(),
        2
    );
    Ok(())
}

#[test]
fn sweep_works_through_more_than_one_chunk() -> TestResult {
    let s = store()?;
    let n = super::super::prune::CHUNK * 2 + 17;
    s.put_events("g", "s", &numbered(NOW - 30 * DAY, 0..n))?;
    s.put_events("g", "s", &[LogEvent::new(NOW, "fresh")])?;
    s.put_retention_policy("g", 1)?;
    assert_eq!(s.sweep_expired_at(NOW)?, u64::try_from(n).unwrap_or(0));
    let left = s.get_events(&get("g", "s"))?;
    assert_eq!(messages(&left.events), ["fresh"]);
    Ok(())
}

#[test]
fn the_sweeper_thread_sweeps_at_start() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &numbered(1_000, 0..5))?;
    s.put_retention_policy("g", 1)?;
    s.start_sweeper(std::time::Duration::from_secs(3600));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !s.get_events(&get("g", "s"))?.events.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "the sweeper never ran"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(())
}
