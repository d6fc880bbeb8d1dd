//! AWS Signature Version 4 (`AWS4-HMAC-SHA256`) verification, as botocore signs AWS JSON
//! requests: the `Authorization` header plus `X-Amz-Date`, the canonical request rebuilt
//! from the `SignedHeaders` list only, and the payload hash taken over the raw body.
//!
//! Verification runs in two steps so the front end can reject a request before it has a
//! body worth hashing: [`Presented::parse`] and [`Presented::check_scope`] look only at
//! headers; [`Presented::verify`] recomputes the signature and compares it in constant time.

use hmac::{Hmac, Mac};
use http::{HeaderMap, Method, Uri};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, percent_encode};
use sha2::{Digest, Sha256};
use time::format_description::FormatItem;
use time::macros::format_description;
use time::{Duration, OffsetDateTime, PrimitiveDateTime};

use crate::protocol::ApiError;

type HmacSha256 = Hmac<Sha256>;

/// The only algorithm botocore uses for these services.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";
/// How far `X-Amz-Date` may be from the host's clock, either way (as AWS).
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);
/// Longest part of a bad `Authorization` header echoed back in an error message.
const ECHO_MAX: usize = 256;

const AMZ_DATE: &[FormatItem<'static>] =
    format_description!("[year][month][day]T[hour][minute][second]Z");

/// The exact message AWS sends with `InvalidSignatureException` for a wrong signature.
pub const MISMATCH_MESSAGE: &str = "The request signature we calculated does not match the \
     signature you provided. Check your AWS Secret Access Key and signing method. Consult the \
     service documentation for details.";

/// Why a request's signature was refused. Each maps to the AWS exception clients expect.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigError {
    /// No `Authorization` header at all.
    #[error("Missing Authentication Token")]
    Missing,
    /// The header (or `X-Amz-Date`) is malformed; the message names what is missing.
    #[error("{0}")]
    Incomplete(String),
    /// The access key id is not one of the host's keys.
    #[error("The security token included in the request is invalid.")]
    UnknownKey,
    /// A known key that may not be used: an IAM key set Inactive, or temporary credentials
    /// without (or with another) session token.
    #[error("The security token included in the request is invalid.")]
    InvalidToken,
    /// Temporary credentials past their expiration.
    #[error("The security token included in the request is expired")]
    Expired,
    /// Well-formed, but the signature does not match.
    #[error("{MISMATCH_MESSAGE}")]
    Mismatch,
    /// Well-formed, but the scope or the date is wrong (the message says how).
    #[error("{0}")]
    Invalid(String),
}

impl From<SigError> for ApiError {
    fn from(e: SigError) -> Self {
        let (code, status) = match &e {
            SigError::Missing => ("MissingAuthenticationTokenException", 403),
            SigError::Incomplete(_) => ("IncompleteSignatureException", 400),
            SigError::UnknownKey => ("UnrecognizedClientException", 400),
            SigError::InvalidToken => ("InvalidClientTokenId", 403),
            SigError::Expired => ("ExpiredTokenException", 400),
            SigError::Mismatch | SigError::Invalid(_) => ("InvalidSignatureException", 400),
        };
        ApiError::with_status(code, e.to_string(), status)
    }
}

/// The request line and headers that are signed (the body is passed separately).
#[derive(Debug, Clone, Copy)]
pub struct RequestHead<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
}

impl<'a> From<&'a http::request::Parts> for RequestHead<'a> {
    fn from(p: &'a http::request::Parts) -> Self {
        Self {
            method: &p.method,
            uri: &p.uri,
            headers: &p.headers,
        }
    }
}

/// A parsed `Authorization` header and the `X-Amz-Date` it goes with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented {
    pub access_key_id: String,
    /// Credential scope: `YYYYMMDD`, region, service, terminator.
    pub scope_date: String,
    pub region: String,
    pub service: String,
    terminator: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    signature: [u8; 32],
    /// `X-Amz-Date` as sent and as parsed.
    amz_date: String,
    date: OffsetDateTime,
}

impl Presented {
    /// Parses the `Authorization` and `X-Amz-Date` headers.
    pub fn parse(headers: &HeaderMap) -> Result<Self, SigError> {
        let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
        let value = values.next().ok_or(SigError::Missing)?;
        if values.next().is_some() {
            return Err(SigError::Incomplete(
                "Only one Authorization header may be sent.".into(),
            ));
        }
        let value = value
            .to_str()
            .map_err(|_| SigError::Incomplete("The Authorization header must be ASCII.".into()))?;
        let (algorithm, params) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
        if algorithm != ALGORITHM {
            return Err(SigError::Incomplete(format!(
                "Unsupported signature algorithm '{}': only {ALGORITHM} is accepted. \
                 Authorization={}",
                echo(algorithm),
                echo(value)
            )));
        }
        let (mut credential, mut signed, mut signature) = (None, None, None);
        for part in params.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part.split_once('=').unwrap_or((part, ""));
            match k.trim() {
                "Credential" => credential = Some(v.trim()),
                "SignedHeaders" => signed = Some(v.trim()),
                "Signature" => signature = Some(v.trim()),
                _ => {}
            }
        }
        let missing: Vec<&str> = [
            ("Credential", credential),
            ("Signature", signature),
            ("SignedHeaders", signed),
        ]
        .iter()
        .filter(|(_, v)| v.is_none_or(str::is_empty))
        .map(|(k, _)| *k)
        .collect();
        let (Some(credential), Some(signed), Some(signature), true) =
            (credential, signed, signature, missing.is_empty())
        else {
            let reqs: String = missing
                .iter()
                .map(|k| format!("Authorization header requires '{k}' parameter. "))
                .collect();
            return Err(SigError::Incomplete(format!(
                "{reqs}Authorization={}",
                echo(value)
            )));
        };

        let parts: Vec<&str> = credential.split('/').collect();
        let [key, date, region, service, terminator] = parts.as_slice() else {
            return Err(SigError::Incomplete(format!(
                "Credential must have exactly 5 slash-delimited elements, e.g. \
                 keyid/date/region/service/term, got '{}'",
                echo(credential)
            )));
        };
        if key.is_empty() {
            return Err(SigError::Incomplete(
                "Credential must start with an access key id.".into(),
            ));
        }
        let signed_headers: Vec<String> = signed.split(';').map(str::to_ascii_lowercase).collect();
        if signed_headers.iter().any(String::is_empty) {
            return Err(SigError::Incomplete(format!(
                "SignedHeaders must be a ';'-separated list of header names, got '{}'",
                echo(signed)
            )));
        }
        if !signed_headers.iter().any(|h| h == "host") {
            return Err(SigError::Incomplete(
                "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.".into(),
            ));
        }
        // Headers that change what a request does must be covered by the signature when
        // sent (as AWS requires): unsigned, they could be swapped on a signed request.
        for (name, shown) in [
            ("x-amz-security-token", "X-Amz-Security-Token"),
            ("x-amz-target", "X-Amz-Target"),
        ] {
            if headers.contains_key(name) && !signed_headers.iter().any(|h| h == name) {
                return Err(SigError::Incomplete(format!(
                    "'{shown}' must be a 'SignedHeader' in the AWS Authorization when it is sent."
                )));
            }
        }
        let signature = decode_signature(signature)?;

        let amz_date = headers
            .get("x-amz-date")
            .ok_or_else(|| {
                SigError::Incomplete(format!(
                    "Authorization header requires existence of a 'X-Amz-Date' header. \
                     Authorization={}",
                    echo(value)
                ))
            })?
            .to_str()
            .unwrap_or("")
            .trim()
            .to_owned();
        let parsed_date = PrimitiveDateTime::parse(&amz_date, AMZ_DATE)
            .map_err(|_| {
                SigError::Incomplete(format!(
                    "Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z'). Got '{}'.",
                    echo(&amz_date)
                ))
            })?
            .assume_utc();
        // A signed header the request lacks cannot verify; say so before any body is read.
        // (`host` may come from the URI's authority instead.)
        if let Some(missing) = signed_headers
            .iter()
            .find(|h| *h != "host" && !headers.contains_key(h.as_str()))
        {
            return Err(SigError::Incomplete(format!(
                "Signed header '{}' is not in the request. Authorization={}",
                echo(missing),
                echo(value)
            )));
        }

        Ok(Self {
            access_key_id: (*key).to_owned(),
            scope_date: (*date).to_owned(),
            region: (*region).to_owned(),
            service: (*service).to_owned(),
            terminator: (*terminator).to_owned(),
            signed_headers,
            signature,
            amz_date,
            date: parsed_date,
        })
    }

    /// Checks the credential scope (terminator, date, region, and the service when the
    /// request's target is known) and that the request date is within 15 minutes of `now`.
    pub fn check_scope(
        &self,
        region: &str,
        service: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<(), SigError> {
        if self.terminator != "aws4_request" {
            return Err(SigError::Invalid(format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'.",
                echo(&self.terminator)
            )));
        }
        let http_day = self.amz_date.get(..8).unwrap_or_default();
        if self.scope_date != http_day {
            return Err(SigError::Invalid(format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date \
                 from HTTP: '{}' != '{http_day}', from '{}'.",
                echo(&self.scope_date),
                self.amz_date
            )));
        }
        if self.region != region {
            return Err(SigError::Invalid(format!(
                "Credential should be scoped to a valid region, not '{}'. This host serves \
                 region '{region}'.",
                echo(&self.region)
            )));
        }
        if let Some(service) = service
            && self.service != service
        {
            return Err(SigError::Invalid(format!(
                "Credential should be scoped to correct service: '{service}'. "
            )));
        }
        if self.date < now - MAX_CLOCK_SKEW {
            return Err(SigError::Invalid(format!(
                "Signature expired: {} is now earlier than {} ({} - 15 min.)",
                self.amz_date,
                amz_date(now - MAX_CLOCK_SKEW),
                amz_date(now)
            )));
        }
        if self.date > now + MAX_CLOCK_SKEW {
            return Err(SigError::Invalid(format!(
                "Signature not yet current: {} is still later than {} ({} + 15 min.)",
                self.amz_date,
                amz_date(now + MAX_CLOCK_SKEW),
                amz_date(now)
            )));
        }
        Ok(())
    }

    /// Recomputes the signature with `secret` over the request and `body`; constant-time
    /// comparison.
    pub fn verify(&self, secret: &str, req: RequestHead<'_>, body: &[u8]) -> Result<(), SigError> {
        let canonical = canonical_request(req, &self.signed_headers, body);
        let sts = string_to_sign(&self.amz_date, &self.scope(), &canonical);
        let key = signing_key(secret, &self.scope_date, &self.region, &self.service);
        let mut mac = HmacSha256::new_from_slice(&key).map_err(|_| SigError::Mismatch)?;
        mac.update(sts.as_bytes());
        // `verify_slice` compares in constant time.
        mac.verify_slice(&self.signature)
            .map_err(|_| SigError::Mismatch)
    }

    /// `<date>/<region>/<service>/aws4_request`.
    pub fn scope(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.scope_date, self.region, self.service, self.terminator
        )
    }
}

fn date_str(d: OffsetDateTime) -> String {
    format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day())
}

/// `YYYYMMDD'T'HHMMSS'Z'` of a UTC time.
pub fn amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    t.format(AMZ_DATE)
        .unwrap_or_else(|_| format!("{}T000000Z", date_str(t)))
}

fn decode_signature(hex_sig: &str) -> Result<[u8; 32], SigError> {
    let mut out = [0u8; 32];
    if hex_sig.len() != 64 || hex::decode_to_slice(hex_sig, &mut out).is_err() {
        return Err(SigError::Incomplete(format!(
            "Signature must be 64 hexadecimal characters, got '{}'.",
            echo(hex_sig)
        )));
    }
    Ok(out)
}

/// The canonical request: method, URI, query, the signed headers, the signed-header list
/// and the payload hash, each on its own line. Bytes, since header values may be opaque.
pub fn canonical_request(req: RequestHead<'_>, signed_headers: &[String], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(req.method.as_str().as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_uri(req.uri.path()).as_bytes());
    out.push(b'\n');
    out.extend_from_slice(canonical_query(req.uri.query().unwrap_or("")).as_bytes());
    out.push(b'\n');
    for name in signed_headers {
        out.extend_from_slice(name.as_bytes());
        out.push(b':');
        let mut first = true;
        let mut values: Vec<&[u8]> = req
            .headers
            .get_all(name.as_str())
            .iter()
            .map(http::HeaderValue::as_bytes)
            .collect();
        let authority;
        if values.is_empty() && name == "host" {
            // HTTP/1.0 without Host, or HTTP/2: the URI's authority stands in.
            authority = req.uri.authority().map(|a| a.as_str().to_owned());
            values.extend(authority.as_deref().map(str::as_bytes));
        }
        for v in values {
            if !first {
                out.push(b',');
            }
            first = false;
            push_collapsed(&mut out, v);
        }
        out.push(b'\n');
    }
    out.push(b'\n');
    out.extend_from_slice(signed_headers.join(";").as_bytes());
    out.push(b'\n');
    out.extend_from_slice(hex::encode(Sha256::digest(body)).as_bytes());
    out
}

/// A header value trimmed, with inner runs of whitespace collapsed to one space.
fn push_collapsed(out: &mut Vec<u8>, v: &[u8]) {
    let mut words = v
        .split(|b| b.is_ascii_whitespace())
        .filter(|w| !w.is_empty());
    if let Some(w) = words.next() {
        out.extend_from_slice(w);
    }
    for w in words {
        out.push(b' ');
        out.extend_from_slice(w);
    }
}

/// Each path segment URI-encoded (encoding `%` again, as botocore does for all services
/// but S3); an empty path is `/`.
fn canonical_uri(path: &str) -> String {
    if path.is_empty() || path == "/" {
        return "/".into();
    }
    path.split('/')
        .map(|seg| uri_encode(seg.as_bytes()))
        .collect::<Vec<_>>()
        .join("/")
}

/// Query parameters decoded, re-encoded with the unreserved set, sorted by name then value.
fn canonical_query(query: &str) -> String {
    if query.is_empty() {
        return String::new();
    }
    let mut pairs: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (
                uri_encode(&percent_decode(k)),
                uri_encode(&percent_decode(v)),
            )
        })
        .collect();
    pairs.sort();
    pairs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&")
}

/// AWS's URI encoding: everything but the unreserved set (A-Z a-z 0-9 - _ . ~) as `%XX`,
/// upper-case hex.
const AWS_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

fn uri_encode(bytes: &[u8]) -> String {
    percent_encode(bytes, AWS_ENCODE).to_string()
}

/// `%XX` decoded; a `%` not followed by two hex digits stays as it is.
fn percent_decode(s: &str) -> Vec<u8> {
    percent_decode_str(s).collect()
}

/// `AWS4-HMAC-SHA256\n<amz-date>\n<scope>\n<hex sha256(canonical request)>`.
pub fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    format!(
        "{ALGORITHM}\n{amz_date}\n{scope}\n{}",
        hex::encode(Sha256::digest(canonical_request))
    )
}

/// `kSigning`: HMAC chain over date, region, service and `aws4_request`.
pub fn signing_key(secret: &str, date: &str, region: &str, service: &str) -> [u8; 32] {
    let k = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let k = hmac(&k, region.as_bytes());
    let k = hmac(&k, service.as_bytes());
    hmac(&k, b"aws4_request")
}

fn hmac(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return [0; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// A client-supplied string cut to a safe length for an error message.
fn echo(s: &str) -> String {
    if s.len() <= ECHO_MAX {
        return s.to_owned();
    }
    let mut end = ECHO_MAX;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const VECTOR_BODY: &str = r#"{"clusterName": "demo"}"#;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                http::HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    /// ecs-api.md §2, botocore 1.44.5 with a frozen clock.
    fn ecs_vector(signature: &str, date: &str) -> HeaderMap {
        headers(&[
            ("host", "127.0.0.1:8080"),
            ("content-type", "application/x-amz-json-1.1"),
            (
                "x-amz-target",
                "AmazonEC2ContainerServiceV20141113.CreateCluster",
            ),
            ("x-amz-date", date),
            ("user-agent", "Boto3/1.44.5 (not signed)"),
            ("amz-sdk-invocation-id", "added after signing"),
            (
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=test/{}/us-east-1/ecs/aws4_request, \
                     SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature={signature}",
                    &date[..8]
                ),
            ),
        ])
    }

    const ECS_SIG: &str = "0b5df3b6d5f074cc0c42ef1b440e2012c7b06265c5ee5dcc0c0b47738e549c57";
    const ECS_NOW: OffsetDateTime = datetime!(2024-05-17 12:34:56 UTC);

    fn head<'a>(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> RequestHead<'a> {
        RequestHead {
            method,
            uri,
            headers,
        }
    }

    #[test]
    fn ecs_vector_canonical_request_and_signature() {
        let h = ecs_vector(ECS_SIG, "20240517T123456Z");
        let (m, u) = (Method::POST, Uri::from_static("/"));
        let p = Presented::parse(&h).unwrap();
        assert_eq!(p.access_key_id, "test");
        assert_eq!(p.scope(), "20240517/us-east-1/ecs/aws4_request");
        let canonical =
            canonical_request(head(&m, &u, &h), &p.signed_headers, VECTOR_BODY.as_bytes());
        assert_eq!(
            String::from_utf8(canonical.clone()).unwrap(),
            "POST\n/\n\n\
             content-type:application/x-amz-json-1.1\n\
             host:127.0.0.1:8080\n\
             x-amz-date:20240517T123456Z\n\
             x-amz-target:AmazonEC2ContainerServiceV20141113.CreateCluster\n\n\
             content-type;host;x-amz-date;x-amz-target\n\
             ba070dea05b7e0adef5ee14a7423fd5855f3f8ed87ccb34d5a913af2ef9cf039"
        );
        let sts = string_to_sign("20240517T123456Z", &p.scope(), &canonical);
        assert!(
            sts.ends_with("\nf62f2766786873a19e7062d4841ef98c1ff1d032f842b7fd5377d15e9977d14e"),
            "{sts}"
        );
        p.check_scope("us-east-1", Some("ecs"), ECS_NOW).unwrap();
        p.verify("test", head(&m, &u, &h), VECTOR_BODY.as_bytes())
            .unwrap();
    }

    /// The AWS SigV4 test suite's `get-vanilla` case.
    #[test]
    fn aws_suite_get_vanilla() {
        let h = headers(&[
            ("host", "example.amazonaws.com"),
            ("x-amz-date", "20150830T123600Z"),
            (
                "authorization",
                "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, \
                 SignedHeaders=host;x-amz-date, \
                 Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
            ),
        ]);
        let (m, u) = (Method::GET, Uri::from_static("/"));
        let p = Presented::parse(&h).unwrap();
        p.check_scope(
            "us-east-1",
            Some("service"),
            datetime!(2015-08-30 12:36:00 UTC),
        )
        .unwrap();
        p.verify(
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            head(&m, &u, &h),
            b"",
        )
        .unwrap();
        // The same request with another secret fails.
        assert_eq!(
            p.verify("wrong", head(&m, &u, &h), b""),
            Err(SigError::Mismatch)
        );
    }

    #[test]
    fn tampered_body_header_or_signature_is_a_mismatch() {
        let (m, u) = (Method::POST, Uri::from_static("/"));
        let h = ecs_vector(ECS_SIG, "20240517T123456Z");
        let p = Presented::parse(&h).unwrap();
        assert_eq!(
            p.verify("test", head(&m, &u, &h), br#"{"clusterName": "demo2"}"#),
            Err(SigError::Mismatch)
        );
        let mut h2 = h.clone();
        h2.insert(
            "x-amz-target",
            http::HeaderValue::from_static("AmazonEC2ContainerServiceV20141113.DeleteCluster"),
        );
        assert_eq!(
            p.verify("test", head(&m, &u, &h2), VECTOR_BODY.as_bytes()),
            Err(SigError::Mismatch)
        );
        let mut bad = ECS_SIG.to_owned();
        bad.replace_range(0..1, "1");
        let h3 = ecs_vector(&bad, "20240517T123456Z");
        let p3 = Presented::parse(&h3).unwrap();
        let e = p3.verify("test", head(&m, &u, &h3), VECTOR_BODY.as_bytes());
        assert_eq!(e, Err(SigError::Mismatch));
        let api: ApiError = SigError::Mismatch.into();
        assert_eq!(api.code, "InvalidSignatureException");
        assert_eq!(api.status, 400);
        assert!(
            api.message
                .starts_with("The request signature we calculated")
        );
    }

    #[test]
    fn unsigned_headers_and_whitespace_do_not_matter() {
        let (m, u) = (Method::POST, Uri::from_static("/"));
        let mut h = ecs_vector(ECS_SIG, "20240517T123456Z");
        h.insert(
            "amz-sdk-request",
            http::HeaderValue::from_static("attempt=2; max=3"),
        );
        h.insert(
            "content-type",
            http::HeaderValue::from_static("  application/x-amz-json-1.1  "),
        );
        let p = Presented::parse(&h).unwrap();
        p.verify("test", head(&m, &u, &h), VECTOR_BODY.as_bytes())
            .unwrap();
    }

    #[test]
    fn missing_authorization() {
        let h = headers(&[("host", "x"), ("x-amz-date", "20240517T123456Z")]);
        assert_eq!(Presented::parse(&h), Err(SigError::Missing));
        let api: ApiError = SigError::Missing.into();
        assert_eq!(
            (api.code.as_str(), api.status, api.message.as_str()),
            (
                "MissingAuthenticationTokenException",
                403,
                "Missing Authentication Token"
            )
        );
    }

    fn incomplete(auth: &str, date: Option<&str>) -> String {
        let mut pairs = vec![("host", "x"), ("authorization", auth)];
        if let Some(d) = date {
            pairs.push(("x-amz-date", d));
        }
        match Presented::parse(&headers(&pairs)) {
            Err(SigError::Incomplete(m)) => {
                let api: ApiError = SigError::Incomplete(m.clone()).into();
                assert_eq!(
                    (api.code.as_str(), api.status),
                    ("IncompleteSignatureException", 400)
                );
                m
            }
            other => panic!("expected Incomplete for {auth:?}, got {other:?}"),
        }
    }

    #[test]
    fn malformed_headers_name_what_is_missing() {
        let d = Some("20240517T123456Z");
        let m = incomplete("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=00", d);
        assert!(m.contains("requires 'Credential' parameter"), "{m}");
        let m = incomplete(
            "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request",
            d,
        );
        assert!(
            m.contains("'Signature'") && m.contains("'SignedHeaders'"),
            "{m}"
        );
        let m = incomplete("Bearer abc", d);
        assert!(
            m.contains("Unsupported signature algorithm 'Bearer'"),
            "{m}"
        );
        let sig = "0".repeat(64);
        let m = incomplete(
            &format!(
                "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1, SignedHeaders=host, Signature={sig}"
            ),
            d,
        );
        assert!(m.contains("5 slash-delimited"), "{m}");
        let m = incomplete(
            &format!(
                "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, SignedHeaders=x-amz-date, Signature={sig}"
            ),
            d,
        );
        assert!(m.contains("'Host'"), "{m}");
        let m = incomplete(
            "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, SignedHeaders=host, Signature=xyz",
            d,
        );
        assert!(m.contains("64 hexadecimal"), "{m}");
        let ok = format!(
            "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
        );
        let m = incomplete(&ok, None);
        assert!(m.contains("'X-Amz-Date'"), "{m}");
        let m = incomplete(&ok, Some("2024-05-17T12:34:56Z"));
        assert!(m.contains("ISO-8601"), "{m}");
    }

    #[test]
    fn security_token_must_be_signed_when_sent() {
        let sig = "0".repeat(64);
        let mut h = headers(&[
            ("host", "x"),
            ("x-amz-date", "20240517T123456Z"),
            ("x-amz-security-token", "tok"),
            (
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}"
                ),
            ),
        ]);
        assert!(
            matches!(Presented::parse(&h), Err(SigError::Incomplete(m)) if m.contains("X-Amz-Security-Token"))
        );
        h.insert(
            "authorization",
            http::HeaderValue::from_str(&format!("AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, SignedHeaders=host;x-amz-date;x-amz-security-token, Signature={sig}")).unwrap(),
        );
        assert!(Presented::parse(&h).is_ok());
    }

    #[test]
    fn target_must_be_signed_when_sent_and_signed_headers_must_be_present() {
        let sig = "0".repeat(64);
        let auth = |signed: &str| {
            format!(
                "AWS4-HMAC-SHA256 Credential=test/20240517/us-east-1/ecs/aws4_request, \
                 SignedHeaders={signed}, Signature={sig}"
            )
        };
        let with_target = |signed: &str| {
            headers(&[
                ("host", "x"),
                ("x-amz-date", "20240517T123456Z"),
                (
                    "x-amz-target",
                    "AmazonEC2ContainerServiceV20141113.DeleteCluster",
                ),
                ("authorization", &auth(signed)),
            ])
        };
        let e = Presented::parse(&with_target("host;x-amz-date")).unwrap_err();
        assert!(
            matches!(&e, SigError::Incomplete(m) if m.contains("'X-Amz-Target' must be a 'SignedHeader'")),
            "{e:?}"
        );
        assert!(Presented::parse(&with_target("host;x-amz-date;x-amz-target")).is_ok());
        // Without the header, it need not be signed (the request has no target).
        let h = headers(&[
            ("host", "x"),
            ("x-amz-date", "20240517T123456Z"),
            ("authorization", &auth("host;x-amz-date")),
        ]);
        assert!(Presented::parse(&h).is_ok());
        // Signed but not sent.
        let h = headers(&[
            ("host", "x"),
            ("x-amz-date", "20240517T123456Z"),
            ("authorization", &auth("content-type;host;x-amz-date")),
        ]);
        let e = Presented::parse(&h).unwrap_err();
        assert!(
            matches!(&e, SigError::Incomplete(m) if m.contains("Signed header 'content-type' is not in the request")),
            "{e:?}"
        );
    }

    #[test]
    fn scope_checks() {
        let h = ecs_vector(ECS_SIG, "20240517T123456Z");
        let p = Presented::parse(&h).unwrap();
        let invalid = |r: Result<(), SigError>| match r {
            Err(SigError::Invalid(m)) => m,
            other => panic!("expected Invalid, got {other:?}"),
        };
        let m = invalid(p.check_scope("us-east-1", Some("logs"), ECS_NOW));
        assert_eq!(
            m,
            "Credential should be scoped to correct service: 'logs'. "
        );
        let m = invalid(p.check_scope("eu-west-1", Some("ecs"), ECS_NOW));
        assert!(
            m.contains("not 'us-east-1'") && m.contains("'eu-west-1'"),
            "{m}"
        );
        // Exactly 15 minutes either way is still accepted; one second more is not.
        p.check_scope("us-east-1", Some("ecs"), ECS_NOW + Duration::minutes(15))
            .unwrap();
        p.check_scope("us-east-1", Some("ecs"), ECS_NOW - Duration::minutes(15))
            .unwrap();
        let m = invalid(p.check_scope(
            "us-east-1",
            Some("ecs"),
            ECS_NOW + Duration::minutes(15) + Duration::seconds(1),
        ));
        assert_eq!(
            m,
            "Signature expired: 20240517T123456Z is now earlier than 20240517T123457Z \
             (20240517T124957Z - 15 min.)"
        );
        let m = invalid(p.check_scope("us-east-1", Some("ecs"), ECS_NOW - Duration::hours(1)));
        assert!(
            m.starts_with("Signature not yet current: 20240517T123456Z"),
            "{m}"
        );
        // Scope date that does not match X-Amz-Date.
        let mut h2 = h.clone();
        h2.insert(
            "x-amz-date",
            http::HeaderValue::from_static("20240518T000000Z"),
        );
        let p2 = Presented::parse(&h2).unwrap();
        let m = invalid(p2.check_scope("us-east-1", None, ECS_NOW));
        assert!(m.contains("'20240517' != '20240518'"), "{m}");
        let api: ApiError = SigError::Invalid(m).into();
        assert_eq!(api.code, "InvalidSignatureException");
    }

    #[test]
    fn unknown_key_maps_to_unrecognized_client() {
        let api: ApiError = SigError::UnknownKey.into();
        assert_eq!(api.code, "UnrecognizedClientException");
        assert_eq!(api.status, 400);
        assert_eq!(
            api.message,
            "The security token included in the request is invalid."
        );
    }

    #[test]
    fn canonical_uri_and_query() {
        assert_eq!(canonical_uri(""), "/");
        assert_eq!(canonical_uri("/a b/c"), "/a%20b/c");
        assert_eq!(canonical_uri("/a%20b"), "/a%2520b");
        assert_eq!(canonical_query(""), "");
        assert_eq!(canonical_query("b=2&a=1&a=0&c"), "a=0&a=1&b=2&c=");
        assert_eq!(canonical_query("k=a%20b~"), "k=a%20b~");
        // Non-ASCII is encoded byte by byte, upper-case hex; a stray `%` is itself encoded.
        assert_eq!(canonical_uri("/é-_.~"), "/%C3%A9-_.~");
        assert_eq!(canonical_query("k=%zz&j=%2a+"), "j=%2A%2B&k=%25zz");
        assert_eq!(amz_date(ECS_NOW), "20240517T123456Z");
    }
}
