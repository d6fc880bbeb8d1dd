//! Raw signed API requests: a SigV4 signer written
//! from the AWS documentation, sharing no code with the host's verifier (so a bug in one
//! cannot hide behind the same bug in the other), and a blocking hyper client.

use serde_json::Value;

/// Who signs a raw request, and for which scope.
#[derive(Clone, Debug)]
pub struct SigningKey {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
    /// Signing name: `ecs` or `logs`.
    pub service: String,
}

impl SigningKey {
    /// The default `test`/`test` key in us-east-1.
    pub fn test(service: &str) -> Self {
        Self {
            access_key_id: "test".into(),
            secret_access_key: "test".into(),
            region: "us-east-1".into(),
            service: service.into(),
        }
    }
}

/// One raw `POST /` request.
#[derive(Clone, Debug)]
pub struct RawRequest {
    pub target: Option<String>,
    pub content_type: String,
    pub body: Vec<u8>,
    /// None: sent without `Authorization`.
    pub key: Option<SigningKey>,
    /// The signing time (`X-Amz-Date`).
    pub at: std::time::SystemTime,
}

impl RawRequest {
    /// A request to `target` signed with the default key for the target's service.
    pub fn new(target: &str, body: &str) -> Self {
        let service = if target.starts_with("Logs_") {
            "logs"
        } else {
            "ecs"
        };
        Self {
            target: Some(target.into()),
            content_type: "application/x-amz-json-1.1".into(),
            body: body.as_bytes().to_vec(),
            key: Some(SigningKey::test(service)),
            at: std::time::SystemTime::now(),
        }
    }
}

/// An answer, its body parsed as JSON (Null if it is not JSON).
#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: ::http::HeaderMap,
    pub body: Vec<u8>,
    pub json: Value,
}

impl RawResponse {
    /// `__type` of an error body ("" for none).
    pub fn code(&self) -> &str {
        self.json["__type"].as_str().unwrap_or("")
    }

    pub fn message(&self) -> &str {
        self.json["message"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

/// `YYYYMMDDTHHMMSSZ` of a time (UTC), by hand from the civil-date algorithm.
pub fn sigv4_amz_date(at: std::time::SystemTime) -> String {
    let secs = at
        .duration_since(std::time::UNIX_EPOCH)
        .expect("time after 1970")
        .as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The `Authorization` value for a `POST /` with these headers (name, value), all signed.
pub fn sigv4_authorization(
    headers: &[(String, String)],
    body: &[u8],
    key: &SigningKey,
    amz_date: &str,
) -> String {
    use hmac::Mac;
    use sha2::Digest;
    fn mac(key: &[u8], data: &str) -> Vec<u8> {
        let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("any key length");
        m.update(data.as_bytes());
        m.finalize().into_bytes().to_vec()
    }
    let mut sorted: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            let v = v.split_whitespace().collect::<Vec<_>>().join(" ");
            (k.to_ascii_lowercase(), v)
        })
        .collect();
    sorted.sort();
    let names = sorted
        .iter()
        .map(|(k, _)| k.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = String::from("POST\n/\n\n");
    for (k, v) in &sorted {
        canonical.push_str(&format!("{k}:{v}\n"));
    }
    canonical.push_str(&format!(
        "\n{names}\n{}",
        hex::encode(sha2::Sha256::digest(body))
    ));
    let day = &amz_date[..8];
    let scope = format!("{day}/{}/{}/aws4_request", key.region, key.service);
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex::encode(sha2::Sha256::digest(canonical.as_bytes()))
    );
    let k = mac(format!("AWS4{}", key.secret_access_key).as_bytes(), day);
    let k = mac(&k, &key.region);
    let k = mac(&k, &key.service);
    let k = mac(&k, "aws4_request");
    format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={names}, Signature={}",
        key.access_key_id,
        hex::encode(mac(&k, &to_sign))
    )
}

/// Sends `req` to `http://127.0.0.1:<port>/` and waits for the whole answer.
pub fn api_request(port: u16, req: &RawRequest) -> RawResponse {
    use http_body_util::BodyExt;
    let host = format!("127.0.0.1:{port}");
    let amz_date = sigv4_amz_date(req.at);
    let mut headers = vec![
        ("content-type".to_owned(), req.content_type.clone()),
        ("host".to_owned(), host.clone()),
        ("x-amz-date".to_owned(), amz_date.clone()),
    ];
    if let Some(t) = &req.target {
        headers.push(("x-amz-target".to_owned(), t.clone()));
    }
    let mut builder = ::http::Request::builder()
        .method("POST")
        .uri(format!("http://{host}/"));
    for (k, v) in &headers {
        builder = builder.header(k, v);
    }
    if let Some(key) = &req.key {
        builder = builder.header(
            "authorization",
            sigv4_authorization(&headers, &req.body, key, &amz_date),
        );
    }
    // Added after signing, as botocore does.
    builder = builder.header("amz-sdk-request", "attempt=1; max=1");
    let request = builder
        .body(http_body_util::Full::new(bytes::Bytes::from(
            req.body.clone(),
        )))
        .expect("request");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    rt.block_on(async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Full<bytes::Bytes>>();
        let resp =
            tokio::time::timeout(std::time::Duration::from_secs(60), client.request(request))
                .await
                .expect("API answered within 60 s")
                .expect("API request");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp
            .into_body()
            .collect()
            .await
            .expect("response body")
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
        RawResponse {
            status,
            headers,
            body,
            json,
        }
    })
}
