use super::*;

#[test]
fn create_ensure_exists() -> TestResult {
    let s = store()?;
    s.create_group("/ecs/web")?;
    assert!(matches!(
        s.create_group("/ecs/web"),
        Err(LogError::GroupAlreadyExists(g)) if g == "/ecs/web"
    ));
    s.ensure_group("/ecs/web")?;
    s.ensure_group("/ecs/new")?;
    assert!(s.group_exists("/ecs/new")?);
    assert!(!s.group_exists("/ecs/none")?);
    assert!(matches!(
        s.create_group("no spaces"),
        Err(LogError::InvalidParameter { .. })
    ));
    Ok(())
}

#[test]
fn create_stream_needs_group_and_is_unique() -> TestResult {
    let s = store()?;
    assert!(matches!(
        s.create_stream("g", "s"),
        Err(LogError::GroupNotFound(_))
    ));
    s.create_group("g")?;
    s.create_stream("g", "s")?;
    assert!(matches!(
        s.create_stream("g", "s"),
        Err(LogError::StreamAlreadyExists { .. })
    ));
    // put_events into an existing stream is fine.
    s.put_events("g", "s", &numbered(0, 0..1))?;
    Ok(())
}

#[test]
fn delete_group_removes_streams_and_events() -> TestResult {
    let s = store()?;
    s.put_events("keep", "s", &numbered(0, 0..5))?;
    s.put_events("g", "s", &numbered(0, 0..5))?;
    s.delete_group("g")?;
    assert!(!s.group_exists("g")?);
    assert!(matches!(
        s.get_events(&get("g", "s")),
        Err(LogError::GroupNotFound(_))
    ));
    assert!(matches!(
        s.delete_group("g"),
        Err(LogError::GroupNotFound(_))
    ));
    // A recreated group starts empty and event ids are not reused.
    s.put_events("g", "s", &numbered(0, 0..1))?;
    let page = s.get_events(&get("g", "s"))?;
    assert_eq!(messages(&page.events), ["msg-0"]);
    let streams = s.describe_streams("g", None, false, false, 50, None)?;
    assert_eq!(streams.streams.len(), 1);
    assert_eq!(streams.streams[0].stored_bytes, 5);
    assert_eq!(s.get_events(&get("keep", "s"))?.events.len(), 5);
    let ids = s.filter_events(&super::super::FilterEvents {
        group: "g".into(),
        ..Default::default()
    })?;
    assert_eq!(ids.events[0].event_id, "11");
    Ok(())
}
