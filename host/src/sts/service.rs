//! The STS API (awsQuery, `Version=2011-06-15`): GetCallerIdentity and AssumeRole.

use std::sync::Arc;

use time::OffsetDateTime;

use super::model::{
    AssumeRoleInput, AssumeRoleOutput, AssumedRoleUser, CredentialsOut, GetCallerIdentityInput,
    GetCallerIdentityOutput,
};
use super::roles::{RoleDirectory, TrustRequest};
use super::sessions::{Grant, Sessions, issuer_of};
use super::validate;
use crate::op;
use crate::protocol::{
    ApiError, Context, Operation, Principal, PrincipalKind, Protocol, Service, Timestamp,
};

static PROTOCOLS: [Protocol; 1] = [Protocol::AwsQuery {
    version: "2011-06-15",
    xmlns: "https://sts.amazonaws.com/doc/2011-06-15/",
}];

/// Live sessions AssumeRole hands out per caller (a role's sessions count as the role):
/// AWS has no such bound, but every session is state this host keeps until it expires
/// (up to 12 hours), so one caller may not grow it without end. Past it: `LimitExceeded`.
pub const MAX_SESSIONS_PER_PRINCIPAL: usize = 1000;

/// The STS service of one host (one account).
pub struct StsService {
    sessions: Arc<Sessions>,
    roles: Arc<dyn RoleDirectory>,
    account_id: String,
    /// Held from counting a caller's sessions to storing its new one, so the cap is exact.
    issuing: Arc<std::sync::Mutex<()>>,
    cap: usize,
}

impl StsService {
    pub fn new(sessions: Arc<Sessions>, roles: Arc<dyn RoleDirectory>, account_id: String) -> Self {
        Self {
            sessions,
            roles,
            account_id,
            issuing: Arc::default(),
            cap: MAX_SESSIONS_PER_PRINCIPAL,
        }
    }

    /// Another cap on live sessions per caller (tests).
    pub fn with_session_cap(mut self, cap: usize) -> Self {
        self.cap = cap;
        self
    }

    /// Anyone may ask who they are: GetCallerIdentity needs no permission (as in AWS,
    /// where even an explicit deny does not stop it).
    async fn get_caller_identity(
        &self,
        ctx: &Context,
        _input: GetCallerIdentityInput,
    ) -> Result<GetCallerIdentityOutput, ApiError> {
        let p = &ctx.principal;
        let account = account_of(&p.arn).unwrap_or(&self.account_id).to_owned();
        let user_id = match &p.kind {
            PrincipalKind::Root => account.clone(),
            PrincipalKind::User { id, .. } => id.clone(),
            PrincipalKind::AssumedRole {
                role_id,
                session_name,
                ..
            } => format!("{role_id}:{session_name}"),
        };
        Ok(GetCallerIdentityOutput {
            user_id,
            account,
            arn: p.arn.clone(),
        })
    }

    async fn assume_role(
        &self,
        ctx: &Context,
        input: AssumeRoleInput,
    ) -> Result<AssumeRoleOutput, ApiError> {
        let invalid = |m: String| self.validation_error(m);
        let arn = validate::role_arn(&input.role_arn).map_err(invalid)?;
        validate::session_name(&input.role_session_name).map_err(invalid)?;
        validate::tags(&input.tags).map_err(invalid)?;
        if input.policy.is_some() || !input.policy_arns.is_empty() {
            return Err(invalid(
                "Session policies (Policy, PolicyArns) are not supported by wasmgate: the \
                 session would have the role's full permissions, not the narrower ones asked \
                 for. Omit them, or create a role with only those permissions."
                    .to_owned(),
            ));
        }
        let chained = matches!(ctx.principal.kind, PrincipalKind::AssumedRole { .. });
        // STS's own bounds first (the model's), the role's maximum once the role is known.
        validate::duration(input.duration_seconds, validate::MAX_DURATION, chained)
            .map_err(invalid)?;

        let denied = |action: &str| {
            self.access_denied(format!(
                "User: {} is not authorized to perform: {action} on resource: {}",
                ctx.principal.arn, input.role_arn
            ))
        };
        let role = if arn.account == self.account_id {
            self.roles.role(&arn.name)?
        } else {
            None
        };
        // An unknown role is refused as an untrusting one: AWS does not say which it was.
        // Role names are unique in an account, so the ARN's path does not matter.
        let role = role.ok_or_else(|| denied("sts:AssumeRole"))?;
        let tags: Vec<(String, String)> = input
            .tags
            .iter()
            .map(|t| (t.key.clone(), t.value.clone()))
            .collect();
        let caller_arns = caller_arns(&ctx.principal, &self.account_id);
        let mut request = TrustRequest {
            caller: &ctx.principal,
            caller_arns: &caller_arns,
            action: "sts:AssumeRole",
            external_id: input.external_id.as_deref(),
            session_name: &input.role_session_name,
            tags: &tags,
        };
        if !self.roles.trusts(&role, &request)? {
            return Err(denied("sts:AssumeRole"));
        }
        if !tags.is_empty() {
            request.action = "sts:TagSession";
            if !self.roles.trusts(&role, &request)? {
                return Err(denied("sts:TagSession"));
            }
        }
        let seconds =
            validate::duration(input.duration_seconds, role.max_session_duration, chained)
                .map_err(invalid)?;

        let now = OffsetDateTime::now_utc();
        let grant = Grant {
            account: self.account_id.clone(),
            role_name: role.name.clone(),
            role_id: role.id.clone(),
            session_name: input.role_session_name.clone(),
            tags,
            source_arn: ctx.principal.arn.clone(),
            source_identity: input.source_identity.clone(),
            expires_at: now + time::Duration::seconds(seconds),
        };
        let sessions = self.sessions.clone();
        let (issuing, cap) = (self.issuing.clone(), self.cap);
        let issuer = issuer_of(&ctx.principal.arn).into_owned();
        let counted = issuer.clone();
        let session = tokio::task::spawn_blocking(move || {
            // Expired sessions go as new ones come (and on the periodic sweep).
            if let Err(e) = sessions.sweep(now) {
                tracing::warn!("sts: sweeping expired sessions failed: {e}");
            }
            let _issuing = crate::util::sync::lock(&issuing);
            if sessions.live_issued_by(&counted, now) >= cap {
                return Ok(None);
            }
            sessions.issue(grant, now).map(Some)
        })
        .await
        .map_err(|e| internal(&e.to_string()))?
        .map_err(|e| internal(&e.to_string()))?;
        let Some(session) = session else {
            tracing::warn!(caller = %ctx.principal.arn, cap, "sts: session cap reached");
            return Err(ApiError::with_status(
                "LimitExceeded",
                // IAM's quota form (STS's model has no error of its own for a quota).
                format!(
                    "Cannot exceed quota for SessionsPerCaller: {cap} (live sessions issued to \
                     {issuer}; a role's sessions count as the role). Wait for some to expire, \
                     or ask for a shorter DurationSeconds."
                ),
                409,
            ));
        };
        tracing::info!(
            caller = %ctx.principal.arn,
            session = %session.arn(),
            access_key_id = %session.access_key_id,
            expires = %Timestamp(session.expires_at).to_iso8601(),
            "sts: role assumed"
        );
        Ok(AssumeRoleOutput {
            assumed_role_user: AssumedRoleUser {
                assumed_role_id: session.assumed_role_id(),
                arn: session.arn(),
            },
            credentials: CredentialsOut {
                access_key_id: session.access_key_id,
                secret_access_key: session.secret_access_key,
                session_token: session.session_token,
                expiration: Timestamp(session.expires_at),
            },
            packed_policy_size: None,
            source_identity: input.source_identity,
        })
    }
}

impl Service for StsService {
    fn name(&self) -> &'static str {
        "sts"
    }

    fn signing_name(&self) -> &'static str {
        "sts"
    }

    fn protocols(&self) -> &'static [Protocol] {
        &PROTOCOLS
    }

    fn operations(&self) -> Vec<Operation<Self>> {
        vec![
            op!("GetCallerIdentity", Self::get_caller_identity),
            op!("AssumeRole", Self::assume_role),
        ]
    }

    fn validation_error(&self, message: String) -> ApiError {
        ApiError::new("ValidationError", message)
    }

    fn access_denied(&self, message: String) -> ApiError {
        ApiError::with_status("AccessDenied", message, 403)
    }
}

/// The ARNs a trust policy's `Principal` may name for this caller.
pub(super) fn caller_arns(p: &Principal, account: &str) -> Vec<String> {
    let mut arns = vec![p.arn.clone()];
    if let PrincipalKind::AssumedRole { role_name, .. } = &p.kind {
        arns.push(format!("arn:aws:iam::{account}:role/{role_name}"));
    }
    let root = format!("arn:aws:iam::{account}:root");
    if !arns.contains(&root) {
        arns.push(root);
    }
    arns
}

/// The account field of an ARN (`arn:aws:iam::<account>:…`).
fn account_of(arn: &str) -> Option<&str> {
    arn.split(':')
        .nth(4)
        .filter(|a| a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()))
}

fn internal(why: &str) -> ApiError {
    tracing::error!("sts: {why}");
    ApiError::with_status(
        "InternalFailure",
        "The request processing has failed because of an unknown error.",
        500,
    )
}
