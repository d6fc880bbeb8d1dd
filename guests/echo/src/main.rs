//! `echo`: prints its arguments and environment, then exits 0.
//!
//! stdout: `arg[<i>]=<value>` for every argument (argv[0] included, as the host passed it),
//! then `env <NAME>=<value>` for every variable, sorted by name, except the ones every
//! container gets from the platform (the endpoints' `ECS_CONTAINER_METADATA_URI*` and
//! `AWS_CONTAINER_*`): tests compare the rest with the definition's `environment`.
//! If `ECHO_STDERR` is set, also prints `stderr-line` to stderr.

fn main() {
    for (i, arg) in std::env::args().enumerate() {
        println!("arg[{i}]={arg}");
    }
    let mut vars: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            !name.starts_with("ECS_CONTAINER_METADATA_URI") && !name.starts_with("AWS_CONTAINER_")
        })
        .collect();
    vars.sort();
    for (name, value) in &vars {
        println!("env {name}={value}");
    }
    if std::env::var_os("ECHO_STDERR").is_some() {
        eprintln!("stderr-line");
    }
}
