use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// The repository's `tests/peers/node`, where `scripts/install-deps` runs `npm ci`.
pub fn node_peers() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/node")
}

/// A peer server process, killed when dropped.
pub struct Peer {
    child: Child,
    pub endpoint: String,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Starts @tus/server with its file store in `dir`.
pub fn tus_node_server(dir: &Path) -> Peer {
    let peers = node_peers();
    assert!(
        peers.join("node_modules/@tus/server").is_dir(),
        "@tus/server is not installed in {}: run scripts/install-deps",
        peers.display()
    );
    let mut child = Command::new("node")
        .arg(peers.join("tus-node-server.mjs"))
        .arg(dir)
        .current_dir(&peers)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start node (Debian package nodejs)");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).expect("read the port");
    let port: u16 =
        line.trim().strip_prefix("listening ").and_then(|p| p.parse().ok()).unwrap_or_else(|| {
            child.kill().ok();
            panic!("@tus/server did not start: {line:?}")
        });
    Peer { child, endpoint: format!("http://127.0.0.1:{port}/files") }
}

/// Deterministic bytes that no two offsets share a pattern of.
pub fn photo_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
