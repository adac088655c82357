//! Turning the paths a host was given (command-line arguments, files and folders dropped
//! on the app) into a list of files and output names.

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

/// Expands files and folders (recursively, hidden entries ignored, symbolic links
/// followed). A file named explicitly is always attempted, so an unsupported one is
/// reported as an error; one found in a folder that is not a camera file is only listed as
/// skipped. Every folder is walked once and every file listed once, however many links or
/// arguments lead to it, so a link back to a parent folder cannot loop.
pub fn expand(paths: &[PathBuf]) -> Inputs {
    let mut walk = Walk::default();
    for path in paths {
        match std::fs::metadata(path) {
            Ok(meta) if meta.is_dir() => walk.folder(path, &meta),
            Ok(meta) => walk.file(path, &meta, true),
            Err(err) => walk.inputs.missing.push((path.clone(), err.to_string())),
        }
    }
    walk.inputs
}

#[derive(Default)]
struct Walk {
    inputs: Inputs,
    /// Folders and files already seen, by identity (see [`identity`]).
    seen: HashSet<(u64, u64)>,
}

impl Walk {
    fn folder(&mut self, dir: &Path, meta: &std::fs::Metadata) {
        if !self.seen.insert(identity(dir, meta)) {
            return;
        }
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(err) => return self.inputs.missing.push((dir.to_path_buf(), err.to_string())),
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let hidden = path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            // A dangling link is neither a folder nor a file to send: skipped.
            match std::fs::metadata(&path) {
                Ok(meta) if meta.is_dir() => self.folder(&path, &meta),
                Ok(meta) => self.file(&path, &meta, false),
                Err(_) => self.inputs.skipped.push(path),
            }
        }
    }

    fn file(&mut self, path: &Path, meta: &std::fs::Metadata, named: bool) {
        if !named && !is_supported_extension(path) {
            self.inputs.skipped.push(path.to_path_buf());
        } else if self.seen.insert(identity(path, meta)) {
            self.inputs.files.push(path.to_path_buf());
        }
    }
}

/// What makes a file or folder itself, whatever the path to it: device and inode on Unix;
/// elsewhere (untested here) a hash of the canonical path.
#[cfg(unix)]
fn identity(_path: &Path, meta: &std::fs::Metadata) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt;
    (meta.dev(), meta.ino())
}

#[cfg(not(unix))]
fn identity(path: &Path, _meta: &std::fs::Metadata) -> (u64, u64) {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf()).hash(&mut hasher);
    (0, hasher.finish())
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

    /// Regression (issue 14, defects 9 and 11): two links back to `.` took 1.47 GB in 30 s;
    /// one listed every file 41 times; a file named twice was developed twice at once.
    #[cfg(unix)]
    #[test]
    fn symlink_loops_and_repeated_names_list_each_file_once() {
        let dir = tempfile::tempdir().expect("tempdir");
        let card = dir.path().join("card");
        std::fs::create_dir_all(card.join("DCIM")).expect("mkdir");
        for name in ["IMG_1.CR2", "IMG_2.CR2"] {
            std::fs::write(card.join("DCIM").join(name), b"raw").expect("write");
        }
        std::os::unix::fs::symlink(".", card.join("DCIM/again")).expect("link");
        std::os::unix::fs::symlink("..", card.join("DCIM/up")).expect("link");
        std::os::unix::fs::symlink("DCIM/IMG_1.CR2", card.join("IMG_1_copy.CR2")).expect("link");
        std::os::unix::fs::symlink("missing.CR2", card.join("dangling.CR2")).expect("link");
        let named = card.join("DCIM/IMG_2.CR2");
        let found = expand(&[card.clone(), named.clone(), named]);
        let mut names: Vec<String> =
            found.files.iter().map(|f| f.file_name().expect("name").to_string_lossy().into_owned()).collect();
        names.sort();
        assert_eq!(names, vec!["IMG_1.CR2", "IMG_2.CR2"], "{:?}", found.files);
        assert!(found.missing.is_empty(), "{:?}", found.missing);
    }

    #[test]
    fn shared_stems_are_numbered_in_order() {
        let files: Vec<PathBuf> =
            ["a/IMG_1.CR2", "b/IMG_1.CR2", "a/img_1.jpg", "a/IMG_2.CR2"].iter().map(PathBuf::from).collect();
        assert_eq!(output_names(&files), vec!["IMG_1.jpg", "IMG_1-2.jpg", "img_1-3.jpg", "IMG_2.jpg"]);
    }
}
