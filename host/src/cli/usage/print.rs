//! The report as a table for people, CSV for spreadsheets, JSON for scripts.

use serde_json::json;
use std::fmt::Write;
use wasmgate::logs::human_bytes;
use wasmgate::usage::{GroupBy, Prices, Query, Report, Usage};

const HEADERS: [&str; 11] = [
    "TASKS",
    "VCPU-S",
    "GB-S",
    "COST",
    "CPU-S",
    "MEM AVG",
    "MEM PEAK",
    "FUEL",
    "STORAGE",
    "REQUESTS",
    "COST BY USE",
];

#[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
fn cells(u: &Usage) -> [String; 11] {
    [
        u.tasks.to_string(),
        format!("{:.1}", u.vcpu_seconds),
        format!("{:.1}", u.gb_seconds),
        format!("${:.6}", u.cost),
        format!("{:.3}", u.cpu_seconds),
        human_bytes(u.memory_average_bytes.round() as u64),
        human_bytes(u.memory_peak_bytes),
        format!("{:.0}", u.fuel),
        human_bytes(u.storage_bytes),
        format!("{:.0}", u.requests),
        format!("${:.6}", u.cost_by_use),
    ]
}

pub fn table(r: &Report, by: GroupBy) -> String {
    let first = match by {
        GroupBy::Cluster => "CLUSTER",
        GroupBy::Service => "CLUSTER/SERVICE",
        GroupBy::Family => "FAMILY",
        GroupBy::Task => "TASK",
        GroupBy::Day => "DAY",
    };
    let mut rows: Vec<Vec<String>> = vec![
        std::iter::once(first.to_owned())
            .chain(HEADERS.iter().map(|h| (*h).to_owned()))
            .collect(),
    ];
    for (k, u) in &r.groups {
        rows.push(std::iter::once(k.clone()).chain(cells(u)).collect());
    }
    rows.push(
        std::iter::once("TOTAL".to_owned())
            .chain(cells(&r.total))
            .collect(),
    );
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|row| row[c].len()).max().unwrap_or(0))
        .collect();
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .enumerate()
            .map(|(c, cell)| {
                // Names left, numbers right.
                if c == 0 {
                    format!("{cell:<w$}", w = widths[c])
                } else {
                    format!("{cell:>w$}", w = widths[c])
                }
            })
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    out
}

pub fn csv(r: &Report) -> String {
    let mut out = String::from(
        "group,tasks,vcpu_seconds,gb_seconds,cost_usd,cpu_seconds,memory_average_bytes,\
         memory_peak_bytes,fuel,storage_bytes,requests,cost_by_use_usd,storage_read_bytes,\
         storage_write_bytes\n",
    );
    for (k, u) in &r.groups {
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            quote(k),
            u.tasks,
            u.vcpu_seconds,
            u.gb_seconds,
            u.cost,
            u.cpu_seconds,
            u.memory_average_bytes.round(),
            u.memory_peak_bytes,
            u.fuel.round(),
            u.storage_bytes,
            u.requests.round(),
            u.cost_by_use,
            u.storage_read_bytes.round(),
            u.storage_write_bytes.round()
        );
    }
    out
}

fn quote(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

pub fn json(r: &Report, q: &Query, prices: Prices) -> String {
    let groups: Vec<serde_json::Value> = r
        .groups
        .iter()
        .map(|(k, u)| {
            let mut v = serde_json::to_value(u).unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.insert("group".into(), json!(k));
            }
            v
        })
        .collect();
    let doc = json!({
        "groupBy": q.group_by,
        "since": q.since_ms.map(|ms| ms as f64 / 1000.0),
        "until": q.until_ms.map(|ms| ms as f64 / 1000.0),
        "now": q.now_ms as f64 / 1000.0,
        "prices": prices,
        "groups": groups,
        "total": r.total,
    });
    format!(
        "{}\n",
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> Report {
        let u = Usage {
            tasks: 2,
            vcpu_seconds: 15.0,
            gb_seconds: 30.0,
            cost: 0.000_205,
            memory_peak_bytes: 1 << 20,
            ..Usage::default()
        };
        Report {
            groups: vec![("default".into(), u.clone())],
            total: u,
        }
    }

    #[test]
    fn a_table_has_a_header_each_group_and_a_total() {
        let t = table(&report(), GroupBy::Cluster);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("CLUSTER  TASKS"), "{t}");
        assert!(lines[1].starts_with("default"), "{t}");
        assert!(
            lines[1].contains("15.0") && lines[1].contains("$0.000205"),
            "{t}"
        );
        assert!(lines[2].starts_with("TOTAL"), "{t}");
    }

    #[test]
    fn csv_quotes_what_needs_it() {
        let c = csv(&report());
        assert_eq!(c.lines().count(), 2);
        assert!(
            c.lines().nth(1).unwrap().starts_with("default,2,15,30,"),
            "{c}"
        );
        assert_eq!(quote("a,b"), "\"a,b\"");
    }
}
