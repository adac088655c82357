//! `wedsync loadtest` on a small load: both servers (ours and @tus/server) take every upload
//! without an error, and the report has their rows and the ratio.

use std::path::Path;
use std::process::Command;

#[test]
fn a_small_load_completes_on_both_servers_with_figures_and_a_ratio() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let out = Command::new(env!("CARGO_BIN_EXE_wedsync"))
        .current_dir(&root)
        .args(["loadtest", "--uploads", "40", "--min-mb", "0.2", "--max-mb", "2", "--chunk-kib", "128"])
        .args(["--tokens", "4"])
        .output()
        .expect("run wedsync loadtest");
    let text = String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    println!("{text}");
    assert!(out.status.success(), "{text}");
    for server in ["wedsync serve", "@tus/server"] {
        let row =
            text.lines().find(|l| l.starts_with(server)).unwrap_or_else(|| panic!("no row for {server}"));
        let fields: Vec<&str> = row[server.len()..].split_whitespace().collect();
        assert_eq!(fields[0], "40", "uploads done: {row}");
        assert_eq!(fields[1], "0", "errors: {row}");
        let p99: f64 = fields[7].parse().expect("p99");
        assert!(p99 > 0.0, "{row}");
        let peak: f64 = fields[9].parse().expect("peak MB");
        assert!(peak > 1.0, "{row}");
    }
    assert!(text.contains("ratio (wedsync / @tus/server): throughput"), "{text}");
}
