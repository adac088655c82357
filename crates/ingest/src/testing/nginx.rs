//! nginx in front of instances, with the repository's configuration
//! (`deploy/nginx/wedsync.conf`, its placeholders filled), on a free port of 127.0.0.1;
//! stopped with SIGTERM (which stops its workers too) and removed when dropped. Debian's
//! `nginx-light` provides it (`scripts/install-deps` installs it).

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, scratch, which};

pub struct Nginx {
    child: Child,
    /// Where clients connect.
    pub port: u16,
    dir: PathBuf,
}

impl Nginx {
    /// Starts nginx with `template` in front of `instances` (`HOST:PORT` each, two), or says
    /// why it could not.
    pub fn start(template: &Path, instances: [&str; 2]) -> Result<Nginx, String> {
        let program = which("nginx")
            .or_else(|| Path::new("/usr/sbin/nginx").exists().then(|| PathBuf::from("/usr/sbin/nginx")))
            .ok_or("nginx was not found (scripts/install-deps installs nginx-light)")?;
        let text = std::fs::read_to_string(template).map_err(|e| format!("{}: {e}", template.display()))?;
        let dir = scratch("nginx")?;
        let port = free_port()?;
        let conf = text
            .replace("{{PREFIX}}", &dir.display().to_string())
            .replace("{{LISTEN}}", &format!("127.0.0.1:{port}"))
            .replace("{{INSTANCE_1}}", instances[0])
            .replace("{{INSTANCE_2}}", instances[1]);
        let path = dir.join("nginx.conf");
        std::fs::write(&path, conf).map_err(|e| format!("{}: {e}", path.display()))?;
        let child = Command::new(program)
            .args(["-p", &dir.display().to_string(), "-c", &path.display().to_string()])
            .stdin(Stdio::null())
            .spawn()
            .map_err(|e| format!("starting nginx: {e}"))?;
        let mut nginx = Nginx { child, port, dir };
        nginx.wait_ready()?;
        Ok(nginx)
    }

    /// Waits until nginx itself answers on its port (it names itself in `Server`, so
    /// nothing else that took the port can pass for it).
    fn wait_ready(&mut self) -> Result<(), String> {
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                let log = std::fs::read_to_string(self.dir.join("error.log")).unwrap_or_default();
                return Err(format!("nginx stopped ({status}): {log}"));
            }
            if self.answers().unwrap_or(false) {
                return Ok(());
            }
            if start.elapsed() > Duration::from_secs(30) {
                return Err(format!("nginx did not answer on {} within 30 s", self.port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn answers(&self) -> std::io::Result<bool> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port))?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")?;
        let mut reply = String::new();
        s.read_to_string(&mut reply)?;
        Ok(reply.to_ascii_lowercase().contains("\r\nserver: nginx"))
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SAFETY: kill sends a signal to the process we started, which we have not reaped.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM);
        }
        let start = Instant::now();
        while matches!(self.child.try_wait(), Ok(None)) && start.elapsed() < Duration::from_secs(10) {
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
