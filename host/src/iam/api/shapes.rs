//! The IAM model's output shapes (User, Group, Role, Policy, …), paging, and what several
//! handlers share.

use crate::iam::store::{Group, ManagedPolicy, Role, Tag, User};
use crate::protocol::{ApiError, Context, PrincipalKind, Timestamp};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::{Deserialize, Serialize};

/// `Tag` in and out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagShape {
    pub key: String,
    pub value: String,
}

impl From<TagShape> for Tag {
    fn from(t: TagShape) -> Self {
        Tag {
            key: t.key,
            value: t.value,
        }
    }
}

pub fn tags_in(tags: Vec<TagShape>) -> Vec<Tag> {
    tags.into_iter().map(Tag::from).collect()
}

/// Tags out; omitted when there are none, as IAM does.
pub fn tags_out(tags: &[Tag]) -> Option<Vec<TagShape>> {
    (!tags.is_empty()).then(|| {
        tags.iter()
            .map(|t| TagShape {
                key: t.key.clone(),
                value: t.value.clone(),
            })
            .collect()
    })
}

pub fn ts(secs: f64) -> Timestamp {
    Timestamp::from_epoch_seconds(secs).unwrap_or_else(Timestamp::now)
}

/// Bytes IAM leaves as they are when it URL-encodes a policy document.
const DOCUMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// A policy document as IAM answers it: URL-encoded (botocore decodes it to a dict).
pub fn document_out(text: &str) -> String {
    utf8_percent_encode(text, DOCUMENT).to_string()
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct UserShape {
    pub path: Option<String>,
    pub user_name: Option<String>,
    pub user_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub tags: Option<Vec<TagShape>>,
}

impl UserShape {
    /// With its tags (CreateUser, GetUser); listings leave them out, as IAM does.
    pub fn full(u: &User) -> Self {
        Self {
            tags: tags_out(&u.tags),
            ..Self::listed(u)
        }
    }

    pub fn listed(u: &User) -> Self {
        Self {
            path: Some(u.path.clone()),
            user_name: Some(u.name.clone()),
            user_id: u.id.clone(),
            arn: u.arn.clone(),
            create_date: ts(u.created),
            tags: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GroupShape {
    pub path: String,
    pub group_name: String,
    pub group_id: String,
    pub arn: String,
    pub create_date: Timestamp,
}

impl From<&Group> for GroupShape {
    fn from(g: &Group) -> Self {
        Self {
            path: g.path.clone(),
            group_name: g.name.clone(),
            group_id: g.id.clone(),
            arn: g.arn.clone(),
            create_date: ts(g.created),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct RoleShape {
    pub path: String,
    pub role_name: String,
    pub role_id: String,
    pub arn: String,
    pub create_date: Timestamp,
    pub assume_role_policy_document: String,
    pub description: Option<String>,
    pub max_session_duration: u32,
    pub tags: Option<Vec<TagShape>>,
}

impl From<&Role> for RoleShape {
    fn from(r: &Role) -> Self {
        Self {
            path: r.path.clone(),
            role_name: r.name.clone(),
            role_id: r.id.clone(),
            arn: r.arn.clone(),
            create_date: ts(r.created),
            assume_role_policy_document: document_out(&r.trust_policy),
            description: r.description.clone(),
            max_session_duration: r.max_session_duration,
            tags: tags_out(&r.tags),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PolicyShape {
    pub policy_name: String,
    pub policy_id: String,
    pub arn: String,
    pub path: String,
    pub default_version_id: String,
    pub attachment_count: usize,
    pub permissions_boundary_usage_count: usize,
    pub is_attachable: bool,
    pub description: Option<String>,
    pub create_date: Timestamp,
    pub update_date: Timestamp,
    pub tags: Option<Vec<TagShape>>,
}

impl PolicyShape {
    pub fn new(p: &ManagedPolicy, attachment_count: usize) -> Self {
        Self {
            policy_name: p.name.clone(),
            policy_id: p.id.clone(),
            arn: p.arn.clone(),
            path: p.path.clone(),
            default_version_id: p.default_version.clone(),
            attachment_count,
            permissions_boundary_usage_count: 0,
            is_attachable: true,
            description: p.description.clone(),
            create_date: ts(p.created),
            update_date: ts(p.updated),
            tags: tags_out(&p.tags),
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AttachedPolicyShape {
    pub policy_name: String,
    pub policy_arn: String,
}

/// ListUserTags / ListRoleTags: one page of an entity's tags.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListTagsOutput {
    pub tags: Vec<TagShape>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

impl ListTagsOutput {
    pub fn page(
        tags: &[Tag],
        marker: Option<&str>,
        max_items: Option<u32>,
    ) -> Result<Self, ApiError> {
        let p = page(tags_out(tags).unwrap_or_default(), marker, max_items)?;
        Ok(Self {
            tags: p.items,
            is_truncated: p.is_truncated,
            marker: p.marker,
        })
    }
}

/// One page of a listing: `Marker` is the index of the page's first item.
pub struct Page<T> {
    pub items: Vec<T>,
    pub is_truncated: bool,
    pub marker: Option<String>,
}

/// Items `marker..marker+max_items` (default 100, at most 1000).
pub fn page<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<u32>,
) -> Result<Page<T>, ApiError> {
    let max = max_items.unwrap_or(100);
    if !(1..=1000).contains(&max) {
        return Err(ApiError::new(
            "ValidationError",
            format!(
                "1 validation error detected: Value '{max}' at 'maxItems' failed to satisfy \
                 constraint: Member must have value between 1 and 1000"
            ),
        ));
    }
    let start = match marker {
        None => 0,
        Some(m) => m
            .parse::<usize>()
            .ok()
            .filter(|s| *s <= items.len())
            .ok_or_else(|| ApiError::new("InvalidInput", format!("Invalid Marker: {m}")))?,
    };
    let end = (start + max as usize).min(items.len());
    let is_truncated = end < items.len();
    let items = items.into_iter().skip(start).take(end - start).collect();
    Ok(Page {
        items,
        is_truncated,
        marker: is_truncated.then(|| end.to_string()),
    })
}

/// The user an operation without `UserName` acts on: the calling IAM user.
pub fn caller_user(ctx: &Context, given: Option<String>) -> Result<String, ApiError> {
    if let Some(name) = given {
        return Ok(name);
    }
    match &ctx.principal.kind {
        PrincipalKind::User { name, .. } => Ok(name.clone()),
        _ => Err(ApiError::new(
            "ValidationError",
            "Must specify userName when calling with non-User credentials",
        )),
    }
}
