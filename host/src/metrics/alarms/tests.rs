use super::*;
use crate::metrics::store::{Datum, SeriesKey, Values};
use crate::state::memory::MemStore;

const T0: i64 = 1_714_564_800; // a multiple of 10

fn engine() -> (AlarmEngine, MetricStore) {
    let store = MetricStore::in_memory(100, 64 << 20);
    let state: Arc<dyn StateStore> = Arc::new(MemStore::default());
    let engine = AlarmEngine::new(
        store.clone(),
        state,
        "us-east-1".into(),
        "000000000000".into(),
    );
    (engine, store)
}

fn put_alarm(engine: &AlarmEngine, a: &AlarmRecord) {
    let v = serde_json::to_value(a).unwrap();
    engine
        .state()
        .put_document(KIND, &a.name, &v, Expect::Any)
        .unwrap();
}

fn get(engine: &AlarmEngine, name: &str) -> AlarmRecord {
    let d = engine.state().get_document(KIND, name).unwrap().unwrap();
    serde_json::from_value(d.value).unwrap()
}

fn cpu() -> SeriesKey {
    SeriesKey::new("App", "Cpu", vec![])
}

fn put(store: &MetricStore, t: i64, v: f64) {
    let k = cpu();
    store
        .insert_at(
            &[Datum {
                key: &k,
                timestamp: t,
                values: Values::One(v),
                unit: "Percent",
                high_resolution: true,
            }],
            t,
        )
        .unwrap();
}

fn alarm(tmd: &str) -> AlarmRecord {
    AlarmRecord {
        name: "high-cpu".into(),
        namespace: Some("App".into()),
        metric_name: Some("Cpu".into()),
        statistic: Some("Maximum".into()),
        period: Some(10),
        evaluation_periods: 1,
        threshold: 50.0,
        comparison_operator: "GreaterThanThreshold".into(),
        treat_missing_data: tmd.into(),
        state_value: "INSUFFICIENT_DATA".into(),
        ..AlarmRecord::default()
    }
}

#[test]
fn an_alarm_goes_ok_alarm_ok_and_subscribers_hear_each_change() {
    let (engine, store) = engine();
    let mut rx = engine.subscribe();
    put_alarm(&engine, &alarm("missing"));
    // No data at all: stays INSUFFICIENT_DATA (no change, nothing heard).
    engine.evaluate_all(T0).unwrap();
    assert_eq!(get(&engine, "high-cpu").state_value, "INSUFFICIENT_DATA");
    assert!(rx.try_recv().is_err());

    put(&store, T0 + 1, 10.0);
    engine.evaluate_all(T0 + 10).unwrap();
    assert_eq!(get(&engine, "high-cpu").state_value, "OK");
    put(&store, T0 + 12, 90.0);
    engine.evaluate_all(T0 + 20).unwrap();
    let a = get(&engine, "high-cpu");
    assert_eq!(a.state_value, "ALARM");
    assert!(
        a.state_reason
            .contains("was greater than the threshold (50.0)"),
        "{}",
        a.state_reason
    );
    put(&store, T0 + 25, 5.0);
    engine.evaluate_all(T0 + 30).unwrap();
    assert_eq!(get(&engine, "high-cpu").state_value, "OK");

    let heard: Vec<(String, String)> = std::iter::from_fn(|| rx.try_recv().ok())
        .map(|c| (c.old_state, c.new_state))
        .collect();
    let pairs: Vec<(&str, &str)> = heard
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        pairs,
        [
            ("INSUFFICIENT_DATA", "OK"),
            ("OK", "ALARM"),
            ("ALARM", "OK")
        ]
    );
    let history = engine.history().unwrap();
    assert_eq!(history.len(), 3);
    assert_eq!(history[1].summary, "Alarm updated from OK to ALARM");
    let data: Value = serde_json::from_str(&history[1].data).unwrap();
    assert_eq!(data["oldState"]["stateValue"], "OK");
    assert_eq!(
        data["newState"]["stateReasonData"]["recentDatapoints"],
        json!([90.0])
    );
}

#[test]
fn missing_data_follows_treat_missing_data() {
    for (tmd, want) in [
        ("missing", "INSUFFICIENT_DATA"),
        ("breaching", "ALARM"),
        ("notBreaching", "OK"),
        ("ignore", "OK"),
    ] {
        let (engine, store) = engine();
        put_alarm(&engine, &alarm(tmd));
        put(&store, T0 + 1, 10.0);
        engine.evaluate_all(T0 + 10).unwrap();
        assert_eq!(get(&engine, "high-cpu").state_value, "OK", "{tmd}");
        // The metric stops reporting.
        engine.evaluate_all(T0 + 60).unwrap();
        assert_eq!(get(&engine, "high-cpu").state_value, want, "{tmd}");
    }
}

#[test]
fn an_expression_alarm_reads_its_returned_query() {
    let (engine, store) = engine();
    let metrics: Vec<MetricDataQuery> = serde_json::from_value(json!([
        {"Id": "m1", "ReturnData": false, "MetricStat": {"Metric": {"Namespace": "App", "MetricName": "Cpu"}, "Period": 10, "Stat": "Sum"}},
        {"Id": "e1", "Expression": "m1 * 2", "Label": "double"}
    ]))
    .unwrap();
    let a = AlarmRecord {
        metrics,
        namespace: None,
        metric_name: None,
        statistic: None,
        period: None,
        threshold: 100.0,
        ..alarm("missing")
    };
    put_alarm(&engine, &a);
    put(&store, T0 + 1, 60.0);
    engine.evaluate_all(T0 + 10).unwrap();
    assert_eq!(get(&engine, "high-cpu").state_value, "ALARM");
}
