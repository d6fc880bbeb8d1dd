//! `hostile-deep-quota [MiB] [levels]`: nests `levels` directories with 250-byte names
//! through descriptors (default 20: about 5 KB of path, past PATH_MAX), then writes `MiB`
//! 1 MiB files at the bottom (default 160). Prints `nested <n> levels` (and why it stopped
//! early, if it did), `wrote <n> MiB` after each file, and the error that ended the writes.
//!
//! Against an unprotected host: the quota's re-measure walked by host paths, silently
//! skipped directories deeper than PATH_MAX, reset the task's usage to almost nothing and
//! accepted the write: a task with a 64 MiB quota wrote 160 MiB.

use wasip2::filesystem::preopens;
use wasip2::filesystem::types::{DescriptorFlags, OpenFlags, PathFlags};

const MIB: usize = 1 << 20;

fn main() {
    let mib: u32 = hostile::arg_or(1, 160);
    let levels: u32 = hostile::arg_or(2, 20);
    let Some((mut dir, _)) = preopens::get_directories()
        .into_iter()
        .find(|(_, path)| path == "/")
    else {
        eprintln!("hostile-deep-quota: no / preopen");
        std::process::exit(2);
    };
    let name = "n".repeat(250);
    let mut nested = 0;
    while nested < levels {
        let next = dir.create_directory_at(&name).and_then(|()| {
            dir.open_at(
                PathFlags::empty(),
                &name,
                OpenFlags::DIRECTORY,
                DescriptorFlags::READ,
            )
        });
        match next {
            Ok(next) => dir = next,
            Err(e) => {
                println!("nesting stopped: {}", e.name());
                break;
            }
        }
        nested += 1;
    }
    println!("nested {nested} levels");
    let chunk = vec![0x5au8; MIB];
    for i in 0..mib {
        let written = dir
            .open_at(
                PathFlags::empty(),
                &format!("f{i}"),
                OpenFlags::CREATE,
                DescriptorFlags::WRITE,
            )
            .and_then(|file| write_all(&file, &chunk));
        if let Err(e) = written {
            println!("write refused after {i} MiB: {}", e.name());
            return;
        }
        println!("wrote {} MiB", i + 1);
    }
}

fn write_all(
    file: &wasip2::filesystem::types::Descriptor,
    mut buf: &[u8],
) -> Result<(), wasip2::filesystem::types::ErrorCode> {
    let mut offset = 0u64;
    while !buf.is_empty() {
        let n = file.write(buf, offset)?;
        if n == 0 {
            return Err(wasip2::filesystem::types::ErrorCode::Io);
        }
        offset += n;
        buf = &buf[n as usize..];
    }
    Ok(())
}
