use super::*;

#[test]
fn groups_by_prefix_with_pages() -> TestResult {
    let s = store()?;
    for g in [
        "/ecs/b",
        "/ecs/a",
        "/ecs/c",
        "/lambda/x",
        "/ecs/d",
        "/ecs/e",
    ] {
        s.ensure_group(g)?;
    }
    s.put_events("/ecs/a", "s", &[LogEvent::new(1, "12345")])?;
    let mut names = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = s.describe_groups(Some("/ecs/"), 2, token.as_deref())?;
        pages += 1;
        names.extend(page.groups.iter().map(|g| g.name.clone()));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["/ecs/a", "/ecs/b", "/ecs/c", "/ecs/d", "/ecs/e"]);
    assert_eq!(pages, 3);
    let all = s.describe_groups(None, 50, None)?;
    assert_eq!(all.groups.len(), 6);
    assert_eq!(all.next_token, None);
    assert_eq!(all.groups[0].stored_bytes, 5);
    assert!(all.groups[0].creation_time_ms > 0);
    assert!(s.describe_groups(None, 0, None).is_err());
    assert!(s.describe_groups(None, 51, None).is_err());
    assert!(matches!(
        s.describe_groups(None, 5, Some("junk")),
        Err(LogError::InvalidToken(_))
    ));
    Ok(())
}

#[test]
fn streams_by_name_and_prefix() -> TestResult {
    let s = store()?;
    for st in ["ecs/web/2", "ecs/web/1", "ecs/worker/1", "other"] {
        s.put_events("g", st, &[])?;
    }
    let page = s.describe_streams("g", Some("ecs/web/"), false, false, 50, None)?;
    let names: Vec<_> = page.streams.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["ecs/web/1", "ecs/web/2"]);
    let first = s.describe_streams("g", None, false, true, 3, None)?;
    let names: Vec<_> = first.streams.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["other", "ecs/worker/1", "ecs/web/2"]);
    let rest = s.describe_streams("g", None, false, true, 3, first.next_token.as_deref())?;
    let names: Vec<_> = rest.streams.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, ["ecs/web/1"]);
    assert_eq!(rest.next_token, None);
    // A token is bound to the order it was issued for.
    assert!(matches!(
        s.describe_streams("g", None, true, true, 3, first.next_token.as_deref()),
        Err(LogError::InvalidToken(_))
    ));
    assert!(matches!(
        s.describe_streams("nope", None, false, false, 3, None),
        Err(LogError::GroupNotFound(_))
    ));
    Ok(())
}

#[test]
fn streams_by_last_event_with_stats() -> TestResult {
    let s = store()?;
    s.put_events_at(
        "g",
        "old",
        &[LogEvent::new(100, "ab"), LogEvent::new(50, "c")],
        900,
    )?;
    s.put_events_at("g", "new", &[LogEvent::new(300, "x")], 901)?;
    s.put_events_at("g", "mid", &[LogEvent::new(200, "y")], 902)?;
    s.put_events_at("g", "old", &[LogEvent::new(150, "d")], 903)?;
    let mut names = Vec::new();
    let mut token = None;
    loop {
        let page = s.describe_streams("g", None, true, true, 1, token.as_deref())?;
        names.extend(page.streams.into_iter().map(|x| x.name));
        token = page.next_token;
        if token.is_none() {
            break;
        }
    }
    assert_eq!(names, ["new", "mid", "old"]);
    let asc = s.describe_streams("g", None, true, false, 50, None)?;
    let old = &asc.streams[0];
    assert_eq!(old.name, "old");
    assert_eq!(old.first_event_timestamp_ms, Some(50));
    assert_eq!(old.last_event_timestamp_ms, Some(150));
    assert_eq!(old.last_ingestion_time_ms, Some(903));
    assert_eq!(old.stored_bytes, 4);
    assert!(matches!(
        s.describe_streams("g", Some("o"), true, false, 50, None),
        Err(LogError::InvalidParameter { .. })
    ));
    Ok(())
}
