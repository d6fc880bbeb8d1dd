//! `files <command> ...`: a small file tool for volume and ephemeral-storage tests.
//!
//! - `write <path> <text>`: creates parent directories, writes `text` (no newline added).
//! - `append <path> <text>`: creates parent directories, appends `text` (no newline added).
//! - `read <path>`: prints the file's content (with a final newline if it lacks one).
//! - `ls <dir>`: prints the entries' names sorted, one per line, directories ending in `/`.
//! - `fill <path> <MiB>`: writes MiB of data in 1 MiB chunks, printing `wrote <n> MiB`
//!   after each chunk.
//! - `exists <path>`: prints `yes` or `no`.
//!
//! On any error: `files: <what>: <error>` on stderr and exit code 1.

use std::fs;
use std::io::Write;
use std::path::Path;

const MIB: usize = 1 << 20;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let result = match args.as_slice() {
        ["write", path, text] => write(path, text, false),
        ["append", path, text] => write(path, text, true),
        ["read", path] => read(path),
        ["ls", dir] => ls(dir),
        ["fill", path, mib] => match mib.parse() {
            Ok(mib) => fill(path, mib),
            Err(_) => Err(format!("fill: not a number of MiB: {mib:?}")),
        },
        ["exists", path] => {
            let exists = Path::new(path).exists();
            println!("{}", if exists { "yes" } else { "no" });
            Ok(())
        }
        _ => Err(format!(
            "usage: write|append <path> <text> | read <path> | ls <dir> | fill <path> <MiB> | exists <path>; got {args:?}"
        )),
    };
    if let Err(msg) = result {
        eprintln!("files: {msg}");
        std::process::exit(1);
    }
}

fn err(what: &str, path: &str) -> impl FnOnce(std::io::Error) -> String {
    move |e| format!("{what} {path}: {e}")
}

fn create_parents(path: &str) -> Result<(), String> {
    match Path::new(path).parent() {
        Some(p) if !p.as_os_str().is_empty() => {
            fs::create_dir_all(p).map_err(err("create_dir_all", &p.to_string_lossy()))
        }
        _ => Ok(()),
    }
}

fn write(path: &str, text: &str, append: bool) -> Result<(), String> {
    create_parents(path)?;
    let mut options = fs::OpenOptions::new();
    if append {
        options.append(true).create(true);
    } else {
        options.write(true).create(true).truncate(true);
    }
    let what = if append { "append" } else { "write" };
    let mut file = options.open(path).map_err(err(what, path))?;
    file.write_all(text.as_bytes()).map_err(err(what, path))
}

fn read(path: &str) -> Result<(), String> {
    let text = fs::read_to_string(path).map_err(err("read", path))?;
    print!("{text}");
    if !text.ends_with('\n') {
        println!();
    }
    Ok(())
}

fn ls(dir: &str) -> Result<(), String> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir).map_err(err("ls", dir))? {
        let entry = entry.map_err(err("ls", dir))?;
        let mut name = entry.file_name().to_string_lossy().into_owned();
        if entry.file_type().is_ok_and(|t| t.is_dir()) {
            name.push('/');
        }
        names.push(name);
    }
    names.sort();
    for name in names {
        println!("{name}");
    }
    Ok(())
}

fn fill(path: &str, mib: u64) -> Result<(), String> {
    create_parents(path)?;
    let mut file = fs::File::create(path).map_err(err("fill", path))?;
    let chunk = vec![b'x'; MIB];
    for n in 1..=mib {
        file.write_all(&chunk).map_err(err("fill", path))?;
        println!("wrote {n} MiB");
    }
    file.flush().map_err(err("fill", path))
}
