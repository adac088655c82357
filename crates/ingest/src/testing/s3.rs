//! Throwaway S3 servers, two independent implementations: `s3s-fs` (crates.io, objects as
//! files under a folder, signatures checked) and `moto`'s server (PyPI). Both pinned and
//! installed by `scripts/install-deps`: s3s-fs into `~/.cache/wedsync/tools/bin`, moto into
//! the virtual environment `~/.cache/wedsync/venv-moto`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, scratch, which};

/// The credentials every test server takes.
pub const KEY_ID: &str = "wedsync-test";
pub const SECRET: &str = "wedsync-test-secret";

/// Which implementation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    S3sFs,
    Moto,
}

/// A running S3 server with one bucket, `bucket`.
pub struct Server {
    pub kind: Kind,
    pub port: u16,
    child: Child,
    dir: PathBuf,
}

impl Server {
    /// Starts `kind` with a bucket named `bucket`, or says what is missing.
    pub fn start(kind: Kind, bucket: &str) -> Result<Server, String> {
        let dir = scratch("s3")?;
        // A free port can be taken by another test's server before this one binds it;
        // then this one exits, and another port is tried.
        for _ in 0..3 {
            let port = free_port()?;
            let child = spawn(kind, port, &dir).inspect_err(|_| {
                // Not started (not installed, say): nothing will remove its folder.
                let _ = std::fs::remove_dir_all(&dir);
            })?;
            let mut server = Server { kind, port, child, dir: dir.clone() };
            server.wait_ready()?;
            if matches!(server.child.try_wait(), Ok(None)) {
                server.create_bucket(bucket)?;
                return Ok(server);
            }
            // Dropping it would remove the folder the next try uses.
            let _ = server.child.wait();
            std::mem::forget(server);
        }
        Err(format!("{kind:?} could not listen on a free port in three tries"))
    }

    /// Stops the server for `down` (every request refused), then starts it again on the
    /// same port and objects (s3s-fs keeps them in files; moto's would be gone).
    pub fn outage(&mut self, down: Duration) -> Result<(), String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::thread::sleep(down);
        self.child = spawn(self.kind, self.port, &self.dir)?;
        self.wait_ready()
    }

    /// Makes another bucket, `name`.
    pub fn create_bucket(&self, name: &str) -> Result<(), String> {
        match self.kind {
            // s3s-fs's buckets are the folders under its root.
            Kind::S3sFs => {
                std::fs::create_dir_all(self.dir.join(name)).map_err(|e| format!("bucket folder: {e}"))
            }
            Kind::Moto => {
                // moto keeps buckets in memory and takes an unsigned request to make one.
                let answer = self.raw("PUT", &format!("/{name}"))?;
                let status = answer.lines().next().unwrap_or_default();
                match status.starts_with("HTTP/1.1 200") {
                    true => Ok(()),
                    false => Err(format!("moto did not create bucket {name}: {status}")),
                }
            }
        }
    }

    /// The `--store` URL of `bucket` on this server.
    pub fn url(&self, bucket: &str) -> String {
        Server::url_through(bucket, self.port)
    }

    /// The `--store` URL of `bucket` reached through `port` of 127.0.0.1 (a proxy's).
    pub fn url_through(bucket: &str, port: u16) -> String {
        format!("s3://{bucket}?endpoint=http://127.0.0.1:{port}&region=us-east-1")
    }

    /// Waits until the server listens, or has exited (its port taken: the caller sees it).
    /// Whatever answers on the port must be this server: moto says so in its log; s3s-fs,
    /// which fails at once on a taken port, must still be running a moment later.
    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return Ok(());
            }
            let said = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            let ours = self.kind != Kind::Moto || said.contains("Running on");
            if ours && TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                std::thread::sleep(Duration::from_millis(300));
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        Err(format!("{:?} did not listen on {} within 60 s: {log}", self.kind, self.port))
    }

    /// The multipart uploads open in `bucket` (moto only: it answers an unsigned listing).
    pub fn open_multipart_uploads(&self, bucket: &str) -> Result<usize, String> {
        if self.kind != Kind::Moto {
            return Err(format!("{:?} is not asked for its multipart uploads", self.kind));
        }
        let answer = self.raw("GET", &format!("/{bucket}?uploads"))?;
        if !answer.starts_with("HTTP/1.1 200") {
            return Err(format!("listing multipart uploads: {}", answer.lines().next().unwrap_or_default()));
        }
        Ok(answer.matches("<UploadId>").count())
    }

    /// Sends one bodiless request and returns the whole answer.
    fn raw(&self, method: &str, path: &str) -> Result<String, String> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).map_err(|e| format!("connect: {e}"))?;
        let request =
            format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n", self.port);
        stream.write_all(request.as_bytes()).map_err(|e| format!("send: {e}"))?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer).map_err(|e| format!("read: {e}"))?;
        Ok(answer)
    }
}

/// Starts `kind` on `port`, its log (and s3s-fs's objects) in `dir`.
fn spawn(kind: Kind, port: u16, dir: &std::path::Path) -> Result<Child, String> {
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let mut command = match kind {
        Kind::S3sFs => {
            let cached = home.join(".cache/wedsync/tools/bin/s3s-fs");
            let program = which("s3s-fs").or_else(|| cached.exists().then_some(cached));
            let program = program.ok_or("s3s-fs was not found (scripts/install-deps installs it)")?;
            let mut c = Command::new(program);
            c.args(["--host", "127.0.0.1", "--port", &port.to_string()]);
            c.args(["--access-key", KEY_ID, "--secret-key", SECRET]).arg(dir);
            c
        }
        Kind::Moto => {
            let program = home.join(".cache/wedsync/venv-moto/bin/moto_server");
            if !program.exists() {
                return Err(format!(
                    "{} was not found (scripts/install-deps installs it)",
                    program.display()
                ));
            }
            let mut c = Command::new(program);
            c.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
            c
        }
    };
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map_err(|e| format!("log: {e}"))?;
    let err = log.try_clone().map_err(|e| format!("log: {e}"))?;
    command
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("starting {kind:?}: {e}"))
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
