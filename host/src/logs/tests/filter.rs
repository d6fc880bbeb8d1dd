use super::super::{FilterEvents, FilteredPage};
use super::*;

fn filter(group: &str) -> FilterEvents {
    FilterEvents {
        group: group.into(),
        ..FilterEvents::default()
    }
}

fn texts(page: &FilteredPage) -> Vec<&str> {
    page.events.iter().map(|e| e.message.as_str()).collect()
}

/// Two interleaved streams plus one in another group.
fn seeded() -> Result<LogStore, LogError> {
    let s = store()?;
    let web = [
        LogEvent::new(10, "GET /health 200"),
        LogEvent::new(30, "ERROR db down"),
        LogEvent::new(50, "GET /api 500"),
    ];
    let worker = [
        LogEvent::new(20, "WARN queue slow"),
        LogEvent::new(30, "job done"),
        LogEvent::new(40, "ERROR job failed: db timeout"),
    ];
    s.put_events_at("app", "ecs/web/t1", &web, 7)?;
    s.put_events_at("app", "ecs/worker/t2", &worker, 8)?;
    s.put_events(
        "other",
        "ecs/web/t1",
        &[LogEvent::new(15, "ERROR elsewhere")],
    )?;
    Ok(s)
}

#[test]
fn interleaves_streams_in_time_order() -> TestResult {
    let s = seeded()?;
    let page = s.filter_events(&filter("app"))?;
    assert_eq!(
        texts(&page),
        [
            "GET /health 200",
            "WARN queue slow",
            "ERROR db down",
            "job done",
            "ERROR job failed: db timeout",
            "GET /api 500",
        ]
    );
    assert_eq!(page.next_token, None);
    let first = &page.events[0];
    assert_eq!(first.log_stream_name, "ecs/web/t1");
    assert_eq!((first.timestamp_ms, first.ingestion_time_ms), (10, 7));
    let ids: Vec<&str> = page.events.iter().map(|e| e.event_id.as_str()).collect();
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    Ok(())
}

#[test]
fn patterns() -> TestResult {
    let s = seeded()?;
    let run = |p: &str| -> Result<Vec<String>, LogError> {
        let page = s.filter_events(&FilterEvents {
            filter_pattern: Some(p.into()),
            ..filter("app")
        })?;
        Ok(page.events.into_iter().map(|e| e.message).collect())
    };
    assert_eq!(
        run("ERROR db")?,
        ["ERROR db down", "ERROR job failed: db timeout"]
    );
    assert_eq!(run("\"db down\"")?, ["ERROR db down"]);
    assert_eq!(run("?WARN ?500")?, ["WARN queue slow", "GET /api 500"]);
    assert_eq!(run("GET -health")?, ["GET /api 500"]);
    assert_eq!(run("ERROR -\"db down\"")?, ["ERROR job failed: db timeout"]);
    assert!(run("error")?.is_empty());
    assert_eq!(run("")?.len(), 6);
    assert!(matches!(
        run("{ $.level = 1 }"),
        Err(LogError::InvalidParameter {
            field: "filterPattern",
            ..
        })
    ));
    Ok(())
}

#[test]
fn stream_selection_and_time_range() -> TestResult {
    let s = seeded()?;
    let by_name = s.filter_events(&FilterEvents {
        stream_names: Some(vec!["ecs/worker/t2".into(), "missing".into()]),
        ..filter("app")
    })?;
    assert_eq!(by_name.events.len(), 3);
    assert!(
        by_name
            .events
            .iter()
            .all(|e| e.log_stream_name == "ecs/worker/t2")
    );
    let by_prefix = s.filter_events(&FilterEvents {
        stream_name_prefix: Some("ecs/web".into()),
        start_time_ms: Some(30),
        end_time_ms: Some(50),
        ..filter("app")
    })?;
    assert_eq!(texts(&by_prefix), ["ERROR db down"]);
    let none = s.filter_events(&FilterEvents {
        stream_name_prefix: Some("zzz".into()),
        ..filter("app")
    })?;
    assert_eq!(
        none,
        FilteredPage {
            events: vec![],
            next_token: None
        }
    );
    let both = FilterEvents {
        stream_names: Some(vec!["a".into()]),
        stream_name_prefix: Some("a".into()),
        ..filter("app")
    };
    assert!(matches!(
        s.filter_events(&both),
        Err(LogError::InvalidParameter { .. })
    ));
    let no_names = FilterEvents {
        stream_names: Some(vec![]),
        ..filter("app")
    };
    assert!(s.filter_events(&no_names).is_err());
    assert!(matches!(
        s.filter_events(&filter("nope")),
        Err(LogError::GroupNotFound(_))
    ));
    let bad_token = FilterEvents {
        next_token: Some("f/1/2".into()),
        ..filter("app")
    };
    assert!(matches!(
        s.filter_events(&bad_token),
        Err(LogError::InvalidToken(_))
    ));
    Ok(())
}

/// Pages until no token comes back, checking tokens never repeat.
fn collect(
    s: &LogStore,
    mut q: FilterEvents,
    budget: usize,
) -> Result<(Vec<String>, usize), LogError> {
    let mut out = Vec::new();
    let mut tokens = std::collections::HashSet::new();
    let mut pages = 0;
    loop {
        let page = s.filter_events_within(&q, budget)?;
        pages += 1;
        out.extend(page.events.into_iter().map(|e| e.message));
        match page.next_token {
            Some(t) => {
                assert!(tokens.insert(t.clone()), "token {t} repeated");
                q.next_token = Some(t);
            }
            None => return Ok((out, pages)),
        }
        assert!(pages < 1000, "pagination did not terminate");
    }
}

#[test]
fn pagination_leaves_out_the_token_on_the_last_page() -> TestResult {
    let s = store()?;
    s.put_events("g", "a", &numbered(0, 0..5))?;
    s.put_events("g", "b", &numbered(0, 5..10))?;
    let q = FilterEvents {
        limit: Some(3),
        ..filter("g")
    };
    let (all, pages) = collect(&s, q.clone(), 100_000)?;
    assert_eq!(all.len(), 10);
    assert_eq!(pages, 4);
    // Exactly a page's worth: no dangling empty page.
    let exact = FilterEvents {
        limit: Some(10),
        ..filter("g")
    };
    assert_eq!(collect(&s, exact, 100_000)?.1, 1);
    Ok(())
}

#[test]
fn scan_budget_returns_short_pages_with_tokens() -> TestResult {
    let s = store()?;
    let mut events = numbered(0, 0..50);
    events.push(LogEvent::new(100, "needle"));
    s.put_events("g", "s", &events)?;
    let q = FilterEvents {
        filter_pattern: Some("needle".into()),
        ..filter("g")
    };
    let (found, pages) = collect(&s, q, 7)?;
    assert_eq!(found, ["needle"]);
    assert!(pages > 5, "{pages}");
    Ok(())
}
