//! Studio presets through the command line.

use std::path::Path;
use std::process::Command;

fn wedsync(args: &[&str], presets_dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .args(args)
        .arg("--presets-dir")
        .arg(presets_dir)
        .output()
        .expect("run wedsync");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn studio_presets_are_listed_and_invalid_ones_are_explained() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("print.toml"), "name = \"print\"\nlong_edge = 4000\ntarget_score = 88\n")
        .expect("write");
    let (code, out) = wedsync(&["presets", "list"], dir.path());
    assert_eq!(code, 0, "{out}");
    for name in ["full", "gallery", "web", "social", "thumb", "print"] {
        assert!(out.lines().any(|l| l.starts_with(name)), "{name} missing from\n{out}");
    }

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "name = \"broken\"\nlong_edge = 3\njpeg_quality = 90\n").expect("write");
    let (code, out) = wedsync(&["presets", "check", broken.to_str().expect("utf-8")], dir.path());
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("INVALID") && out.contains("long_edge"), "{out}");
    // A broken preset in the studio folder stops the run instead of vanishing silently.
    let (code, out) = wedsync(&["presets", "list"], dir.path());
    assert_eq!(code, 2, "{out}");
    assert!(out.contains("broken") && out.contains("long_edge"), "{out}");
}
