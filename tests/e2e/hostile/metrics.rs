//! Attacks on the metrics API: a PutMetricData flood from one caller (ever-new series in
//! ever-new namespaces, huge batches) is throttled with CloudWatch's `Throttling` and held
//! to its series cap, while another caller's puts and reads and the host's own published
//! metrics carry on (`tests/py/hostile_metrics.py`); the host stays up and its metrics
//! store within its cap.

use super::rss_kib;
use crate::common::{Host, Server};

const MAX_MIB: u64 = 16;

#[test]
fn a_put_metric_data_flood_is_throttled_and_capped() {
    let host = Host::with_config(&format!(
        "[metrics]\nmax_mib = {MAX_MIB}\nput_requests_per_second = 20\n\
         put_values_per_second = 3000\nmax_series_per_caller = 300\n\
         max_custom_series = 1000\n\n\
         [[api.keys]]\naccess_key_id = \"test\"\nsecret_access_key = \"test\"\n\n\
         [[api.keys]]\naccess_key_id = \"flood\"\nsecret_access_key = \"flood-secret\"\n"
    ));
    let server = Server::start(&host);
    let run = server.python_ok("hostile_metrics.py", &["flood-secret"]);
    println!("{}", run.stdout);

    // Still up and answering.
    let pid = server.pid();
    assert!(
        std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "the host died\n{}",
        server.debug()
    );
    let listed = server.aws_json(&["cloudwatch", "list-metrics", "--namespace", "Bystander"]);
    assert_eq!(
        listed["Metrics"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    // The store's file stays near its cap (pages in use are held to max_mib; the
    // write-ahead log is checkpointed by the flushes).
    let db: u64 = ["metrics.db", "metrics.db-wal"]
        .iter()
        .filter_map(|f| std::fs::metadata(host.data_dir().join(f)).ok())
        .map(|m| m.len())
        .sum();
    assert!(
        db <= (4 * MAX_MIB) << 20,
        "metrics.db and its WAL hold {db} bytes for a {MAX_MIB} MiB cap"
    );
    let rss = rss_kib(pid);
    println!("host RSS after the flood: {} MiB", rss / 1024);
    assert!(rss < 1024 * 1024, "host RSS {rss} KiB after the flood");
}
