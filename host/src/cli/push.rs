//! `wasmgate push <component.wasm> <reference>`: publish a component to an OCI registry in the
//! CNCF Wasm OCI artifact layout and print its digest.

use anyhow::Context;
use std::path::PathBuf;
use std::process::ExitCode;
use wasmgate::config::HostConfig;
use wasmgate::images::{self, ImageRef};

#[derive(clap::Args)]
pub struct PushArgs {
    /// The component to publish (a wasm32-wasip2 `.wasm` file).
    pub component: PathBuf,
    /// Where to publish it: `registry/repository:tag`.
    pub reference: String,
    /// Name of a host secret (`[secrets.NAME]`, bound to the registry) holding
    /// `username:password`; without it the `[[registry.auths]]` entry for the registry
    /// applies, if any.
    #[arg(long)]
    pub credentials_parameter: Option<String>,
}

pub fn push(config: HostConfig, args: PushArgs) -> anyhow::Result<ExitCode> {
    let reference = ImageRef::parse(&args.reference)?;
    let credentials = images::credentials(
        &config,
        reference.registry(),
        args.credentials_parameter.as_deref(),
    )?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let digest = rt
        .block_on(images::push(
            &args.component,
            &reference,
            &credentials,
            &config.registry,
        ))
        .with_context(|| format!("cannot push {} to {reference}", args.component.display()))?;
    println!("{digest}");
    host_line!("pushed {reference}@{digest}");
    Ok(ExitCode::SUCCESS)
}
