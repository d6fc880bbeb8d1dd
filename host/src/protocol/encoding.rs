//! `Content-Encoding` of request bodies: botocore gzips large bodies of operations the
//! model marks `requestcompression` (CloudWatch PutMetricData past 10 KiB). The signature
//! covers the compressed bytes, so this runs after verification.

use super::error::ApiError;
use bytes::Bytes;
use http::HeaderMap;
use std::io::Read;

/// The body as the codec should read it, at most `limit` bytes once decompressed.
pub(crate) fn decode(headers: &HeaderMap, body: Bytes, limit: usize) -> Result<Bytes, ApiError> {
    let encoding = headers.get(http::header::CONTENT_ENCODING).map(|v| {
        v.to_str()
            .unwrap_or("(not text)")
            .trim()
            .to_ascii_lowercase()
    });
    match encoding.as_deref() {
        None | Some("") | Some("identity") => Ok(body),
        Some("gzip") => {
            let mut out = Vec::new();
            let read = flate2::read::MultiGzDecoder::new(body.as_ref())
                .take(limit as u64 + 1)
                .read_to_end(&mut out);
            match read {
                Err(e) => Err(ApiError::serialization(format!(
                    "The request body is not valid gzip: {e}"
                ))),
                Ok(n) if n > limit => Err(ApiError::new(
                    "RequestEntityTooLargeException",
                    format!(
                        "The request body is larger than this host's limit of {limit} bytes once \
                         decompressed."
                    ),
                )),
                Ok(_) => Ok(Bytes::from(out)),
            }
        }
        Some(other) => Err(ApiError::serialization(format!(
            "Content-Encoding {other:?} is not supported (gzip is)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(data: &[u8]) -> Bytes {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        Bytes::from(e.finish().unwrap())
    }

    fn headers(enc: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("content-encoding", enc.parse().unwrap());
        h
    }

    #[test]
    fn gzip_bodies_are_inflated_within_the_limit() {
        let body = decode(&headers("gzip"), gz(b"Action=X"), 100).unwrap();
        assert_eq!(&body[..], b"Action=X");
        assert_eq!(
            &decode(&HeaderMap::new(), Bytes::from_static(b"x"), 0).unwrap()[..],
            b"x"
        );
        // A small bomb: 1 MiB of zeros past a 1 KiB limit.
        let e = decode(&headers("gzip"), gz(&vec![0; 1 << 20]), 1024).unwrap_err();
        assert_eq!(e.code, "RequestEntityTooLargeException");
        let e = decode(&headers("gzip"), Bytes::from_static(b"nope"), 1024).unwrap_err();
        assert_eq!(e.code, "SerializationException");
        let e = decode(&headers("br"), Bytes::new(), 1024).unwrap_err();
        assert!(e.message.contains("\"br\""), "{}", e.message);
    }
}
