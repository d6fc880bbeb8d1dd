"""botocore's own serializers and parsers, driven over stdin/stdout for tests/e2e/protocols/.

One JSON object per line in, one per line out:
  {"cmd": "serialize", "service": "sts", "protocol": "query", "operation": "AssumeRole",
   "params": {...}}
    -> {"method", "path", "headers", "body_b64", "signing_name"}: the request exactly as
       botocore would send it (serializer, then prepare_request_dict and prepare()).
  {"cmd": "parse", "service", "protocol", "operation", "status", "headers", "body_b64"}
    -> the dict botocore's parser makes of the response (timestamps in ISO 8601, blobs as
       {"$b64": ...}; HTTPHeaders left out).
With "validate": false the serializer skips botocore's parameter validation (to send bad input).
In params, {"$ts": "2024-05-01T12:00:00Z"} is a datetime and {"$b64": "..."} bytes.
Errors come back as {"error": "..."}.
"""

import base64
import datetime
import json
import sys
import traceback
from urllib.parse import urlsplit

import botocore.session
from botocore.awsrequest import HeadersDict, create_request_object, prepare_request_dict
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

SESSION = botocore.session.get_session()
MODELS = {}


def model(service):
    if service not in MODELS:
        MODELS[service] = SESSION.get_service_model(service)
    return MODELS[service]


def from_wire_params(value):
    if isinstance(value, dict):
        if set(value) == {"$ts"}:
            return datetime.datetime.fromisoformat(value["$ts"].replace("Z", "+00:00"))
        if set(value) == {"$b64"}:
            return base64.b64decode(value["$b64"])
        return {k: from_wire_params(v) for k, v in value.items()}
    if isinstance(value, list):
        return [from_wire_params(v) for v in value]
    return value


def to_json(value):
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [to_json(v) for v in value]
    if isinstance(value, datetime.datetime):
        return value.astimezone(datetime.timezone.utc).isoformat()
    if isinstance(value, (bytes, bytearray)):
        return {"$b64": base64.b64encode(value).decode()}
    return value


def serialize(job):
    m = model(job["service"])
    op = m.operation_model(job["operation"])
    serializer = create_serializer(job["protocol"], include_validation=job.get("validate", True))
    request = serializer.serialize_to_request(from_wire_params(job["params"]), op)
    prepare_request_dict(request, endpoint_url="https://example.test")
    prepared = create_request_object(request).prepare()
    url = urlsplit(prepared.url)
    body = prepared.body or b""
    if isinstance(body, str):
        body = body.encode()
    return {
        "method": prepared.method,
        "path": url.path + ("?" + url.query if url.query else ""),
        "headers": {k: v if isinstance(v, str) else v.decode() for k, v in prepared.headers.items()},
        "body_b64": base64.b64encode(body).decode(),
        "signing_name": m.signing_name,
    }


def parse(job):
    m = model(job["service"])
    op = m.operation_model(job["operation"])
    headers = HeadersDict(job["headers"])
    response = {
        "status_code": job["status"],
        "headers": headers,
        "body": base64.b64decode(job["body_b64"]),
        "context": {"operation_name": op.name},
    }
    parsed = create_parser(job["protocol"]).parse(response, op.output_shape)
    parsed.get("ResponseMetadata", {}).pop("HTTPHeaders", None)
    return to_json(parsed)


def main():
    for line in sys.stdin:
        job = json.loads(line)
        try:
            out = serialize(job) if job["cmd"] == "serialize" else parse(job)
        except Exception as e:  # the test shows the reason
            out = {"error": f"{type(e).__name__}: {e}\n{traceback.format_exc()}"}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
