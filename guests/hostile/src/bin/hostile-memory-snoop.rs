//! `hostile-memory-snoop`: a `wasi:http` proxy component that looks for another tenant's
//! data in the linear memory it is given. The host resets a freed instance's dirty pages
//! in place (`[pool] memory_keep_resident_kib`) rather than handing them back to the
//! kernel, and the next instance in that pool slot may be another tenant's: the reset must
//! leave nothing behind (tests/e2e/hostile/http.rs).
//!
//! - `GET /plant?secret=S` fills 512 KiB of heap with the secret's marker (each byte of S
//!   plus one, so that the request's own copy of S never matches) and answers `planted`.
//! - `GET /scan?secret=S` reads every byte of its linear memory and answers `found N` (N
//!   places where the marker starts) or `clean`, with the bytes scanned. It grows its
//!   memory by 4 MiB first, to reach pages an earlier instance grew into.

use http_kit::{path_of, query, respond};
use wasip2::http::types::{IncomingRequest, ResponseOutparam};

const PLANT_BYTES: usize = 512 * 1024;
/// 4 MiB more before a scan (64 KiB pages).
#[cfg(target_arch = "wasm32")]
const GROW_PAGES: usize = 64;

struct Snoop;

impl wasip2::exports::http::incoming_handler::Guest for Snoop {
    fn handle(req: IncomingRequest, out: ResponseOutparam) {
        let path = path_of(&req);
        drop(req);
        let secret = query(&path, "secret").unwrap_or("").as_bytes().to_vec();
        if secret.len() < 8 {
            respond(out, 400, "text/plain", b"secret: at least 8 bytes\n");
            return;
        }
        let body = if path.starts_with("/plant") {
            let marker: Vec<u8> = secret.iter().map(|b| b.wrapping_add(1)).collect();
            let mut buf = vec![0u8; PLANT_BYTES];
            for chunk in buf.chunks_mut(marker.len()) {
                chunk.copy_from_slice(&marker[..chunk.len()]);
            }
            // Left in memory on purpose: the instance ends with it there.
            std::mem::forget(std::hint::black_box(buf));
            "planted\n".to_owned()
        } else {
            let (hits, scanned) = scan(&secret);
            if hits == 0 {
                format!("clean {scanned}\n")
            } else {
                format!("found {hits} {scanned}\n")
            }
        };
        respond(out, 200, "text/plain", body.as_bytes());
    }
}

/// Places in the whole linear memory where `secret`'s marker (each byte plus one) starts;
/// compared byte by byte so the marker itself is never built in memory.
fn scan(secret: &[u8]) -> (usize, usize) {
    // Grown first: pages a previous instance grew into are reachable again this way.
    #[cfg(target_arch = "wasm32")]
    let size = {
        core::arch::wasm32::memory_grow(0, GROW_PAGES);
        core::arch::wasm32::memory_size(0) * 65536
    };
    #[cfg(not(target_arch = "wasm32"))]
    let size = 0usize;
    let mut hits = 0;
    // Address 0 is valid linear memory; start at 1 so no null pointer is formed.
    let mut i = 1;
    while i + secret.len() <= size {
        let matches = secret.iter().enumerate().all(|(j, b)| {
            // SAFETY: `i + j < size`: inside the linear memory, which is all readable.
            let m = unsafe { core::ptr::read_volatile((i + j) as *const u8) };
            m == b.wrapping_add(1)
        });
        if matches {
            hits += 1;
            i += secret.len();
        } else {
            i += 1;
        }
    }
    (hits, size)
}

wasip2::http::proxy::export!(Snoop);

fn main() {
    eprintln!("hostile-memory-snoop is a wasi:http component: serve it, do not run it");
}
