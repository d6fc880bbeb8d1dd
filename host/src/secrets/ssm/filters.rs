//! `ParameterFilters` (DescribeParameters, GetParametersByPath) and the older `Filters` of
//! DescribeParameters, compiled once and checked against each parameter.

use serde::Deserialize;

use super::store::StoredParameter;
use crate::protocol::ApiError;

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParameterStringFilter {
    key: String,
    option: Option<String>,
    values: Option<Vec<String>>,
}

/// DescribeParameters `Filters` (`Name`, `Type`, `KeyId`), the API's first filter form.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ParametersFilter {
    key: String,
    values: Vec<String>,
}

/// Which operation the filters are for: GetParametersByPath takes fewer keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    ByPath,
    Describe,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Equals,
    BeginsWith,
    Contains,
}

#[derive(Debug, Clone)]
enum Check {
    Name(Op, Vec<String>),
    Type(Vec<String>),
    KeyId(Op, Vec<String>),
    Tier(Vec<String>),
    DataType(Vec<String>),
    Path {
        recursive: bool,
        paths: Vec<String>,
    },
    /// Labels are not supported: no version has one.
    Label,
    Tag(String, Option<Vec<String>>),
}

/// Compiled filters: a parameter matches when every one holds.
#[derive(Debug, Clone, Default)]
pub struct Filters(Vec<Check>);

impl Filters {
    pub fn compile(filters: &[ParameterStringFilter], scope: Scope) -> Result<Self, ApiError> {
        if filters.len() > 50 {
            return Err(ApiError::validation(
                "ParameterFilters holds more than 50 filters",
            ));
        }
        filters
            .iter()
            .map(|f| compile_one(f, scope))
            .collect::<Result<_, _>>()
            .map(Filters)
    }

    pub fn legacy(filters: &[ParametersFilter]) -> Result<Self, ApiError> {
        let mut out = Vec::new();
        for f in filters {
            check_values(&f.key, Some(&f.values))?;
            out.push(match f.key.as_str() {
                "Name" => Check::Name(Op::BeginsWith, f.values.clone()),
                "Type" => Check::Type(check_types(&f.values)?),
                "KeyId" => Check::KeyId(Op::Equals, f.values.clone()),
                other => return Err(bad_key(other, &["Name", "Type", "KeyId"])),
            });
        }
        Ok(Filters(out))
    }

    pub fn matches(&self, p: &StoredParameter) -> bool {
        let Some(v) = p.versions.last() else {
            return false;
        };
        self.0.iter().all(|c| match c {
            Check::Name(op, values) => values.iter().any(|x| {
                // Name filters match with or without the leading slash.
                let x = x.as_str();
                let name = p.name.as_str();
                compare(*op, name, x)
                    || (!x.starts_with('/') && compare(*op, name.trim_start_matches('/'), x))
            }),
            Check::Type(values) => values.iter().any(|x| x == v.kind.as_str()),
            Check::KeyId(op, values) => v
                .key_id
                .as_deref()
                .is_some_and(|k| values.iter().any(|x| compare(*op, k, x))),
            Check::Tier(values) => values.contains(&v.tier),
            Check::DataType(values) => values.contains(&v.data_type),
            Check::Path { recursive, paths } => paths.iter().any(|path| {
                let prefix = if path.ends_with('/') {
                    path.clone()
                } else {
                    format!("{path}/")
                };
                p.name
                    .strip_prefix(&prefix)
                    .is_some_and(|rest| *recursive || !rest.contains('/'))
            }),
            Check::Label => false,
            Check::Tag(key, values) => p
                .tags
                .iter()
                .any(|t| &t.key == key && values.as_ref().is_none_or(|vs| vs.contains(&t.value))),
        })
    }
}

fn compare(op: Op, have: &str, want: &str) -> bool {
    match op {
        Op::Equals => have == want,
        Op::BeginsWith => have.starts_with(want),
        Op::Contains => have.contains(want),
    }
}

fn compile_one(f: &ParameterStringFilter, scope: Scope) -> Result<Check, ApiError> {
    let key = f.key.as_str();
    let keys: &[&str] = match scope {
        Scope::ByPath => &["Type", "KeyId", "Label", "tag:<key>"],
        Scope::Describe => &[
            "Name",
            "Type",
            "KeyId",
            "Path",
            "Tier",
            "DataType",
            "tag:<key>",
        ],
    };
    let allowed = |k: &str| keys.contains(&k);
    if let Some(tag) = key.strip_prefix("tag:") {
        if tag.is_empty() {
            return Err(bad_key(key, keys));
        }
        option(f, &["Equals"], "Equals")?;
        if let Some(v) = &f.values {
            check_values(key, Some(v))?;
        }
        return Ok(Check::Tag(tag.to_owned(), f.values.clone()));
    }
    if !allowed(key) {
        return Err(bad_key(key, keys));
    }
    let values = f.values.clone().unwrap_or_default();
    match key {
        "Name" => {
            let op = match option(f, &["Equals", "BeginsWith", "Contains"], "Equals")? {
                "BeginsWith" => Op::BeginsWith,
                "Contains" => Op::Contains,
                _ => Op::Equals,
            };
            check_values(key, f.values.as_ref())?;
            Ok(Check::Name(op, values))
        }
        "Type" => {
            option(f, &["Equals"], "Equals")?;
            check_values(key, f.values.as_ref())?;
            Ok(Check::Type(check_types(&values)?))
        }
        "KeyId" => {
            let op = match option(f, &["Equals", "BeginsWith"], "Equals")? {
                "BeginsWith" => Op::BeginsWith,
                _ => Op::Equals,
            };
            check_values(key, f.values.as_ref())?;
            Ok(Check::KeyId(op, values))
        }
        "Tier" => {
            option(f, &["Equals"], "Equals")?;
            check_values(key, f.values.as_ref())?;
            if let Some(bad) = values
                .iter()
                .find(|v| !["Standard", "Advanced", "Intelligent-Tiering"].contains(&v.as_str()))
            {
                return Err(bad_value(key, bad));
            }
            Ok(Check::Tier(values))
        }
        "DataType" => {
            option(f, &["Equals"], "Equals")?;
            check_values(key, f.values.as_ref())?;
            Ok(Check::DataType(values))
        }
        "Path" => {
            let recursive = option(f, &["OneLevel", "Recursive"], "OneLevel")? == "Recursive";
            check_values(key, f.values.as_ref())?;
            if let Some(bad) = values.iter().find(|v| !v.starts_with('/')) {
                return Err(bad_value(key, bad));
            }
            Ok(Check::Path {
                recursive,
                paths: values,
            })
        }
        _ => {
            // Label.
            option(f, &["Equals"], "Equals")?;
            check_values(key, f.values.as_ref())?;
            Ok(Check::Label)
        }
    }
}

/// The filter's `Option`, one of `allowed` (`default` when absent).
fn option<'a>(
    f: &'a ParameterStringFilter,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'a str, ApiError> {
    match f.option.as_deref() {
        None => Ok(default),
        Some(o) if allowed.contains(&o) => Ok(o),
        Some(o) => Err(ApiError::new(
            "InvalidFilterOption",
            format!(
                "The filter option {o:?} is not valid for key {}. Valid options include: [{}].",
                f.key,
                allowed.join(", ")
            ),
        )),
    }
}

fn check_values(key: &str, values: Option<&Vec<String>>) -> Result<(), ApiError> {
    match values {
        Some(v) if !v.is_empty() && v.len() <= 50 => {
            match v.iter().find(|x| x.is_empty() || x.chars().count() > 1024) {
                Some(bad) => Err(bad_value(key, bad)),
                None => Ok(()),
            }
        }
        _ => Err(ApiError::new(
            "InvalidFilterValue",
            format!("The filter {key} needs 1 to 50 Values."),
        )),
    }
}

fn check_types(values: &[String]) -> Result<Vec<String>, ApiError> {
    match values
        .iter()
        .find(|v| !["String", "StringList", "SecureString"].contains(&v.as_str()))
    {
        Some(bad) => Err(bad_value("Type", bad)),
        None => Ok(values.to_vec()),
    }
}

fn bad_key(key: &str, valid: &[&str]) -> ApiError {
    ApiError::new(
        "InvalidFilterKey",
        format!(
            "The following filter key is not valid: {key}. Valid filter keys include: [{}].",
            valid.join(", ")
        ),
    )
}

fn bad_value(key: &str, value: &str) -> ApiError {
    ApiError::new(
        "InvalidFilterValue",
        format!("The filter value {value:?} is not valid for key {key}."),
    )
}
