//! ListMetrics: the series the store holds, filtered, 500 a page.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::shapes::{Metric, check_namespace, dimensions_of};
use super::{
    ApiError, MetricsService, bad_token, check_len, invalid, invalid_value, item, too_many,
};
use crate::metrics::store::now_secs;
use crate::protocol::Context;

const PAGE: usize = 500;
/// RecentlyActive PT3H: written within the last three hours.
const RECENT: i64 = 3 * 3600;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DimensionFilter {
    pub name: String,
    pub value: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetricsInput {
    pub namespace: Option<String>,
    pub metric_name: Option<String>,
    #[serde(default)]
    pub dimensions: Vec<DimensionFilter>,
    pub next_token: Option<String>,
    pub recently_active: Option<String>,
    pub include_linked_accounts: Option<bool>,
    pub owning_account: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListMetricsOutput {
    metrics: Vec<Metric>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

impl MetricsService {
    pub(super) async fn list_metrics(
        &self,
        _ctx: &Context,
        input: ListMetricsInput,
    ) -> Result<ListMetricsOutput, ApiError> {
        if let Some(ns) = &input.namespace {
            check_namespace("Namespace", ns)?;
        }
        if let Some(n) = &input.metric_name {
            check_len("MetricName", n, 255)?;
        }
        if input.dimensions.len() > 10 {
            return Err(too_many("Dimensions", 10));
        }
        for (i, d) in input.dimensions.iter().enumerate() {
            check_len(&format!("{}.Name", item("Dimensions", i)), &d.name, 255)?;
        }
        let recent = match input.recently_active.as_deref() {
            None => false,
            Some("PT3H") => true,
            Some(other) => {
                return Err(invalid_value(
                    "RecentlyActive",
                    other,
                    "The only value is PT3H.",
                ));
            }
        };
        if input.owning_account.is_some() {
            return Err(invalid(
                "The parameter OwningAccount is not supported: this host has one account.",
            ));
        }
        let _ = input.include_linked_accounts;
        let offset = match &input.next_token {
            Some(t) => B64
                .decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .and_then(|s| s.strip_prefix("lm1:").and_then(|n| n.parse::<usize>().ok()))
                .ok_or_else(bad_token)?,
            None => 0,
        };
        let now = now_secs();
        let found = self.store.list(|key, info| {
            input.namespace.as_ref().is_none_or(|n| *n == key.namespace)
                && input.metric_name.as_ref().is_none_or(|n| *n == key.name)
                && input.dimensions.iter().all(|f| {
                    key.dimensions
                        .iter()
                        .any(|(n, v)| *n == f.name && f.value.as_ref().is_none_or(|fv| fv == v))
                })
                && (!recent || info.last_write >= now - RECENT)
        });
        let metrics: Vec<Metric> = found
            .iter()
            .skip(offset)
            .take(PAGE)
            .map(|i| Metric {
                namespace: Some(i.key.namespace.clone()),
                metric_name: Some(i.key.name.clone()),
                dimensions: dimensions_of(&i.key),
            })
            .collect();
        let next = offset + metrics.len();
        Ok(ListMetricsOutput {
            metrics,
            next_token: (next < found.len()).then(|| B64.encode(format!("lm1:{next}"))),
        })
    }
}
