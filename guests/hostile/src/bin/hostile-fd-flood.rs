//! `hostile-fd-flood [count] [hold-seconds]`: opens one file `count` times (default
//! 100,000) without closing any, prints `opened <n> files` and the error that stopped it,
//! then `holding <n> files` and keeps them open for `hold-seconds` (default 0) before
//! exiting 0.
//!
//! Every descriptor a guest opens is a host descriptor. Against an unprotected host the
//! loop took the whole process to its descriptor limit: other tasks failed to start and
//! the API failed to accept connections.

use wasip2::filesystem::preopens;
use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

fn main() {
    let count: u32 = hostile::arg_or(1, 100_000);
    let hold: u64 = hostile::arg_or(2, 0);
    let Some((root, _)) = preopens::get_directories()
        .into_iter()
        .find(|(_, path)| path == "/")
    else {
        eprintln!("hostile-fd-flood: no / preopen");
        std::process::exit(2);
    };
    let mut held = Vec::new();
    let mut stopped = None;
    for i in 0..count {
        // The first open creates the file (one block of quota); the rest only open it.
        let flags = if i == 0 {
            OpenFlags::CREATE
        } else {
            OpenFlags::empty()
        };
        match root.open_at(PathFlags::empty(), "flood", flags, DescriptorFlags::READ) {
            Ok(fd) => held.push(fd),
            Err(e) => {
                stopped = Some(e);
                break;
            }
        }
    }
    match stopped {
        Some(e) => println!("opened {} files, then: {}", held.len(), e.name()),
        None => println!("opened {} files", held.len()),
    }
    println!("holding {} files", held.len());
    std::thread::sleep(std::time::Duration::from_secs(hold));
    drop(held);
}
