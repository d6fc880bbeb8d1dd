//! The one rule for a relative file `image`: `run` and `validate` resolve it against the
//! task definition file's folder; `serve` against its `image_root` (`validate
//! --serve-root` checks a definition as `serve` would see it).

use std::path::{Path, PathBuf};
use wasmgate::runtime::image::{self, ImageSource};
use wasmgate::taskdef::TaskDefinition;

/// The folder a definition file's relative images resolve against, absolute.
pub fn definition_dir(taskdef: &Path) -> PathBuf {
    let file = std::path::absolute(taskdef).unwrap_or_else(|_| taskdef.to_owned());
    file.parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf)
}

/// One line per file image that cannot be read: its field, the absolute path tried, why,
/// and which folder a relative path was resolved against. Registry images are not
/// fetched here (`run` pulls them).
pub fn missing_images(def: &TaskDefinition, base: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for (i, c) in def.container_definitions.iter().enumerate() {
        let field = format!("containerDefinitions[{i}].image");
        let path = match image::resolve(&c.image, base) {
            Ok(ImageSource::File(p)) => p,
            Ok(ImageSource::Registry(_)) => continue,
            Err(e) => {
                out.push(format!("{field}: {e}"));
                continue;
            }
        };
        let problem = match std::fs::metadata(&path) {
            Ok(m) if m.is_file() => continue,
            Ok(_) => "is not a file".to_owned(),
            Err(e) => format!("cannot be read: {e}"),
        };
        let relative = if Path::new(c.image.trim().trim_start_matches("file://")).is_relative() {
            format!(
                " (the relative path {:?} resolves against {})",
                c.image,
                base.display()
            )
        } else {
            String::new()
        };
        out.push(format!("{field}: {} {problem}{relative}", path.display()));
    }
    out
}
