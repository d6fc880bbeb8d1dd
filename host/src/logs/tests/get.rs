use super::*;

#[test]
fn round_trip_orders_by_timestamp_then_insertion() -> TestResult {
    let s = store()?;
    let batch = [
        LogEvent::new(1_700_000_000_003, "c"),
        LogEvent::new(1_700_000_000_001, "a"),
        LogEvent::new(1_700_000_000_002, "b"),
        LogEvent::new(1_700_000_000_002, "b2"),
    ];
    s.put_events_at("/ecs/web", "ecs/app/t1", &batch, 42)?;
    let page = s.get_events(&GetEvents {
        start_from_head: true,
        ..get("/ecs/web", "ecs/app/t1")
    })?;
    assert_eq!(messages(&page.events), ["a", "b", "b2", "c"]);
    assert_eq!(page.events[0].timestamp_ms, 1_700_000_000_001);
    assert!(page.events.iter().all(|e| e.ingestion_time_ms == 42));
    // put_events stamps the real clock.
    s.put_events("/ecs/web", "ecs/app/t1", &[LogEvent::new(5, "x")])?;
    let page = s.get_events(&get("/ecs/web", "ecs/app/t1"))?;
    assert!(page.events[0].ingestion_time_ms > 1_600_000_000_000);
    Ok(())
}

#[test]
fn tail_by_default_head_on_request() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &numbered(1000, 0..10))?;
    let tail = s.get_events(&GetEvents {
        limit: Some(3),
        ..get("g", "s")
    })?;
    assert_eq!(messages(&tail.events), ["msg-7", "msg-8", "msg-9"]);
    let head = s.get_events(&GetEvents {
        limit: Some(3),
        start_from_head: true,
        ..get("g", "s")
    })?;
    assert_eq!(messages(&head.events), ["msg-0", "msg-1", "msg-2"]);
    Ok(())
}

#[test]
fn forward_pages_end_with_the_same_token_and_follow_new_events() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &numbered(1000, 0..10))?;
    let mut q = GetEvents {
        limit: Some(4),
        start_from_head: true,
        ..get("g", "s")
    };
    let mut sizes = Vec::new();
    let mut seen = Vec::new();
    loop {
        let page = s.get_events(&q)?;
        if q.next_token.as_deref() == Some(page.next_forward_token.as_str()) {
            assert!(page.events.is_empty());
            break;
        }
        sizes.push(page.events.len());
        seen.extend(page.events.into_iter().map(|e| e.message));
        q.next_token = Some(page.next_forward_token);
        assert!(sizes.len() < 10, "pagination did not terminate");
    }
    assert_eq!(sizes, [4, 4, 2]);
    assert_eq!(seen.len(), 10);
    // A follower polling with the end token picks up what is written next.
    s.put_events("g", "s", &numbered(1000, 10..12))?;
    let page = s.get_events(&q)?;
    assert_eq!(messages(&page.events), ["msg-10", "msg-11"]);
    Ok(())
}

#[test]
fn backward_pages_walk_to_the_start() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &numbered(1000, 0..10))?;
    let first = s.get_events(&GetEvents {
        limit: Some(4),
        ..get("g", "s")
    })?;
    assert_eq!(
        messages(&first.events),
        ["msg-6", "msg-7", "msg-8", "msg-9"]
    );
    let mut token = first.next_backward_token;
    let mut pages = Vec::new();
    loop {
        let page = s.get_events(&GetEvents {
            limit: Some(4),
            next_token: Some(token.clone()),
            ..get("g", "s")
        })?;
        if page.next_backward_token == token {
            assert!(page.events.is_empty());
            // Turning around at the start finds the first event again.
            let fwd = s.get_events(&GetEvents {
                limit: Some(1),
                next_token: Some(page.next_forward_token),
                ..get("g", "s")
            })?;
            assert_eq!(messages(&fwd.events), ["msg-0"]);
            break;
        }
        pages.push(messages(&page.events).join(","));
        token = page.next_backward_token;
    }
    assert_eq!(pages, ["msg-2,msg-3,msg-4,msg-5", "msg-0,msg-1"]);
    Ok(())
}

#[test]
fn time_range_is_start_inclusive_end_exclusive() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &numbered(1000, 0..10))?;
    for start_from_head in [true, false] {
        let page = s.get_events(&GetEvents {
            start_time_ms: Some(1003),
            end_time_ms: Some(1006),
            start_from_head,
            ..get("g", "s")
        })?;
        assert_eq!(messages(&page.events), ["msg-3", "msg-4", "msg-5"]);
    }
    let empty = s.get_events(&GetEvents {
        start_time_ms: Some(1003),
        end_time_ms: Some(1003),
        ..get("g", "s")
    })?;
    assert!(empty.events.is_empty());
    Ok(())
}

#[test]
fn empty_stream_then_follow() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &[])?;
    let page = s.get_events(&get("g", "s"))?;
    assert!(page.events.is_empty());
    let again = s.get_events(&GetEvents {
        next_token: Some(page.next_forward_token.clone()),
        ..get("g", "s")
    })?;
    assert_eq!(again.next_forward_token, page.next_forward_token);
    s.put_events("g", "s", &numbered(0, 0..2))?;
    let later = s.get_events(&GetEvents {
        next_token: Some(page.next_forward_token),
        ..get("g", "s")
    })?;
    assert_eq!(messages(&later.events), ["msg-0", "msg-1"]);
    Ok(())
}

#[test]
fn errors() -> TestResult {
    let s = store()?;
    s.put_events("g", "s", &numbered(0, 0..1))?;
    assert!(matches!(
        s.get_events(&get("nope", "s")),
        Err(LogError::GroupNotFound(g)) if g == "nope"
    ));
    assert!(matches!(
        s.get_events(&get("g", "nope")),
        Err(LogError::StreamNotFound { stream, .. }) if stream == "nope"
    ));
    for token in ["garbage", "f/1", "p/1/2"] {
        let q = GetEvents {
            next_token: Some(token.into()),
            ..get("g", "s")
        };
        assert!(
            matches!(s.get_events(&q), Err(LogError::InvalidToken(_))),
            "{token}"
        );
    }
    for limit in [0, 10_001] {
        let q = GetEvents {
            limit: Some(limit),
            ..get("g", "s")
        };
        assert!(matches!(
            s.get_events(&q),
            Err(LogError::InvalidParameter { field: "limit", .. })
        ));
    }
    let backwards = GetEvents {
        start_time_ms: Some(10),
        end_time_ms: Some(5),
        ..get("g", "s")
    };
    assert!(matches!(
        s.get_events(&backwards),
        Err(LogError::InvalidParameter { .. })
    ));
    assert!(matches!(
        s.put_events("bad group", "s", &[]),
        Err(LogError::InvalidParameter {
            field: "logGroupName",
            ..
        })
    ));
    assert!(matches!(
        s.put_events("g", "a:b", &[]),
        Err(LogError::InvalidParameter {
            field: "logStreamName",
            ..
        })
    ));
    Ok(())
}
