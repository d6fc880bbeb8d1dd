//! `two-tier-frontend`: the front end of `examples/two-tier`, a `wasi:http` component on
//! :8080. For every request it calls the api container of its own task at
//! `$API_URL` (default `http://localhost:5000`) + `/api<path>` and embeds the answer:
//!
//! ```text
//! frontend: GET /hello
//! api said (200): {"service":"api","path":"/api/hello",...}
//! ```
//!
//! When the api cannot be reached the frontend answers `502` with the error code.

use http_kit::{path_of, respond};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Frontend;

impl wasip2::exports::http::incoming_handler::Guest for Frontend {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let path = path_of(&req);
        drop(req);
        let base = std::env::var("API_URL").unwrap_or_else(|_| "http://localhost:5000".to_owned());
        let api_path = if path == "/" {
            "/".to_owned()
        } else {
            path.clone()
        };
        let url = format!("{}/api{}", base.trim_end_matches('/'), api_path);
        match http_kit::get(&url) {
            Ok(f) => {
                let body = format!(
                    "frontend: GET {path}\napi said ({}): {}\n",
                    f.status,
                    String::from_utf8_lossy(&f.body).trim_end()
                );
                respond(out, 200, "text/plain", body.as_bytes());
            }
            Err(e) => {
                eprintln!("frontend: GET {url} failed: {e}");
                let body = format!("frontend: GET {path}\napi unreachable: {e}\n");
                respond(out, 502, "text/plain", body.as_bytes());
            }
        }
    }
}

wasip2::http::proxy::export!(Frontend);

fn main() {
    eprintln!("two-tier-frontend is a wasi:http component: serve it (portMappings), do not run it");
}
