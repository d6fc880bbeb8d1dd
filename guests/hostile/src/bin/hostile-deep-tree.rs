//! `hostile-deep-tree [depth]`: nests directories through descriptors as deep as it can
//! (default 60,000): create `d` in the current directory, open it, drop the parent, repeat.
//! No path it names is longer than one letter, yet the tree's real path grows far past
//! PATH_MAX, and each level costs only a block of quota. Prints where and why it stopped,
//! then exits 0 so the host cleans the tree up.
//!
//! Against an unprotected host: `std::fs::remove_dir_all` overflowed a tokio worker's stack
//! at DEPROVISIONING (the process aborted, every task died), and the restart's leftover
//! sweep failed with EMFILE, so the host refused to start.

use wasip2::filesystem::preopens;
use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

fn main() {
    let want: u32 = hostile::arg_or(1, 60_000);
    let Some((mut dir, _)) = preopens::get_directories()
        .into_iter()
        .find(|(_, path)| path == "/")
    else {
        eprintln!("hostile-deep-tree: no / preopen");
        std::process::exit(2);
    };
    let mut depth = 0u32;
    let stopped = loop {
        if depth == want {
            break None;
        }
        if let Err(e) = dir.create_directory_at("d") {
            break Some(("create-directory-at", e));
        }
        match dir.open_at(
            PathFlags::empty(),
            "d",
            OpenFlags::DIRECTORY,
            DescriptorFlags::READ,
        ) {
            // The parent's descriptor is dropped (closed) here.
            Ok(next) => dir = next,
            Err(e) => break Some(("open-at", e)),
        }
        depth += 1;
        if depth.is_multiple_of(10_000) {
            println!("depth {depth}");
        }
    };
    match stopped {
        None => println!("reached depth {depth}"),
        Some((call, e)) => println!("stopped at depth {depth}: {call}: {}", e.name()),
    }
}
