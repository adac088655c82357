//! Turning the paths on the command line into a list of files and output names.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use wedsync_develop::is_supported_extension;

/// What the command line named, expanded.
#[derive(Debug, Default)]
pub struct Inputs {
    /// Files to develop, in a stable order: arguments as given, folders sorted.
    pub files: Vec<PathBuf>,
    /// Files inside folders that are not camera files (sidecars, videos…), skipped.
    pub skipped: Vec<PathBuf>,
    /// Paths that could not be read at all, with the reason.
    pub missing: Vec<(PathBuf, String)>,
}

/// Expands files and folders (recursively, hidden entries ignored). A file named
/// explicitly is always attempted, so an unsupported one is reported as an error; one
/// found in a folder that is not a camera file is only listed as skipped.
pub fn expand(paths: &[PathBuf]) -> Inputs {
    let mut inputs = Inputs::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk(path, &mut inputs),
            Ok(_) => inputs.files.push(path.clone()),
            Err(err) => inputs.missing.push((path.clone(), err.to_string())),
        }
    }
    inputs
}

fn walk(dir: &Path, inputs: &mut Inputs) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => return inputs.missing.push((dir.to_path_buf(), err.to_string())),
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
        if hidden {
            continue;
        }
        if path.is_dir() {
            walk(&path, inputs);
        } else if is_supported_extension(&path) {
            inputs.files.push(path);
        } else {
            inputs.skipped.push(path);
        }
    }
}

/// Output file names: the input's stem plus `.jpg`; where several inputs share a stem
/// (ignoring case, as Windows and macOS file systems do), the second becomes `stem-2.jpg`,
/// the third `stem-3.jpg`, in input order, skipping any name already taken.
pub fn output_names(files: &[PathBuf]) -> Vec<String> {
    let stems: Vec<String> = files
        .iter()
        .map(|f| f.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "image".into()))
        .collect();
    let mut taken: HashSet<String> = HashSet::new();
    stems
        .iter()
        .map(|stem| {
            let mut name = stem.clone();
            let mut n = 1;
            while !taken.insert(name.to_lowercase()) {
                n += 1;
                name = format!("{stem}-{n}");
            }
            format!("{name}.jpg")
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_stems_are_numbered_in_order() {
        let files: Vec<PathBuf> =
            ["a/IMG_1.CR2", "b/IMG_1.CR2", "a/img_1.jpg", "a/IMG_2.CR2"].iter().map(PathBuf::from).collect();
        assert_eq!(output_names(&files), vec!["IMG_1.jpg", "IMG_1-2.jpg", "img_1-3.jpg", "IMG_2.jpg"]);
    }
}
