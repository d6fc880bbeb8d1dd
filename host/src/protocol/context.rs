//! Who called, and what the protocol layer knows about the call: what a handler gets beside
//! its typed input.

/// Who made a request: the access key's principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub access_key_id: String,
    /// e.g. `arn:aws:iam::000000000000:user/test`, or for a session
    /// `arn:aws:sts::000000000000:assumed-role/<role>/<session>`.
    pub arn: String,
    pub kind: PrincipalKind,
}

/// What kind of identity signed: decides which policies apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A key from the host config (`[[api.keys]]`, or the default `test`): the account's
    /// root, allowed everything.
    Root,
    /// An IAM user's access key: the user's, its groups' and attached policies apply.
    User { name: String, id: String },
    /// An STS session of a role: the role's policies apply.
    AssumedRole {
        role_name: String,
        role_id: String,
        session_name: String,
    },
}

impl Principal {
    /// A host-config key acting as the account root.
    pub fn root(access_key_id: impl Into<String>, arn: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            arn: arn.into(),
            kind: PrincipalKind::Root,
        }
    }
}

/// The wire protocols a service can answer (Smithy's names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProtocolKind {
    AwsJson1_0,
    AwsJson1_1,
    AwsQuery,
    RestJson1,
    RpcV2Cbor,
}

impl ProtocolKind {
    pub fn name(self) -> &'static str {
        match self {
            ProtocolKind::AwsJson1_0 => "awsJson1_0",
            ProtocolKind::AwsJson1_1 => "awsJson1_1",
            ProtocolKind::AwsQuery => "awsQuery",
            ProtocolKind::RestJson1 => "restJson1",
            ProtocolKind::RpcV2Cbor => "rpcv2Cbor",
        }
    }
}

impl std::fmt::Display for ProtocolKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// One call as a handler sees it, beside its typed input.
#[derive(Debug, Clone)]
pub struct Context {
    pub principal: Principal,
    /// The `x-amzn-RequestId` (awsQuery: `<RequestId>`) of the response.
    pub request_id: String,
    /// The service's name, as [`Service::name`](super::Service::name).
    pub service: &'static str,
    /// The operation, as registered (`GetCallerIdentity`).
    pub operation: &'static str,
    pub protocol: ProtocolKind,
    /// Members the request sent that the input type does not have, by path
    /// (`containerDefinitions.0.foo`). Not an error, as AWS services ignore them; logged at
    /// debug level and here for a handler that wants to warn.
    pub unknown_members: Vec<String>,
}
