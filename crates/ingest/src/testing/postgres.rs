//! A throwaway PostgreSQL cluster for tests (feature `test-cluster`): `initdb` into a fresh
//! folder, the server on a free port of 127.0.0.1, stopped and removed when dropped.
//! Debian's `postgresql` package provides the programs (`scripts/install-deps` installs
//! it). PostgreSQL refuses to run as root, so under root the cluster runs as the
//! `postgres` user that package creates.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{free_port, run, scratch, which};

/// A running cluster; every database in it belongs to the superuser `wedsync`, which
/// connects without a password.
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// The user the server runs as, when the tests run as root.
    owner: Option<&'static str>,
}

impl Cluster {
    /// Makes and starts a cluster, or says what is missing.
    pub fn start() -> Result<Cluster, String> {
        let bin = binaries()
            .ok_or("PostgreSQL's initdb was not found (scripts/install-deps installs postgresql)")?;
        let dir = scratch("pg")?;
        // SAFETY: geteuid only reads the process's effective user id.
        let owner = (unsafe { libc::geteuid() } == 0).then_some("postgres");
        if let Some(user) = owner {
            run(Command::new("chown").args([user, &dir.display().to_string()]))?;
        }
        let port = free_port()?;
        let cluster = Cluster { dir, bin, port, owner };
        cluster.tool(
            "initdb",
            &["-D", &cluster.data(), "-U", "wedsync", "--auth=trust", "--no-sync", "-E", "UTF8"],
        )?;
        cluster.resume()?;
        Ok(cluster)
    }

    /// Starts the server again after [`Cluster::stop`] (same data, same port).
    pub fn resume(&self) -> Result<(), String> {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
            self.port,
            self.dir.display()
        );
        let log = self.dir.join("server.log").display().to_string();
        self.tool("pg_ctl", &["-D", &self.data(), "-l", &log, "-w", "-t", "60", "-o", &options, "start"])
    }

    /// Stops the server at once (as a crash would), keeping its data.
    pub fn stop(&self) -> Result<(), String> {
        self.tool("pg_ctl", &["-D", &self.data(), "-m", "immediate", "-w", "stop"])
    }

    /// Creates database `name` and returns its URL.
    pub fn database(&self, name: &str) -> Result<String, String> {
        let port = self.port.to_string();
        self.tool(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port,
                "-U",
                "wedsync",
                "-d",
                "postgres",
                "-c",
                &format!("CREATE DATABASE \"{name}\""),
            ],
        )?;
        Ok(self.url(name))
    }

    /// Runs `sql` in database `name` with psql and returns its unaligned output (rows a
    /// line each, columns separated by `|`).
    pub fn psql(&self, name: &str, sql: &str) -> Result<String, String> {
        let program = self.bin.join("psql");
        let port = self.port.to_string();
        let out = Command::new(if program.exists() { program } else { PathBuf::from("psql") })
            .args(["-h", "127.0.0.1", "-p", &port, "-U", "wedsync", "-d", name, "-At", "-c", sql])
            .output()
            .map_err(|e| format!("psql: {e}"))?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).trim().to_string()),
            false => Err(format!("psql {sql:?}: {}", String::from_utf8_lossy(&out.stderr))),
        }
    }

    /// The URL of database `name` (which need not exist).
    pub fn url(&self, name: &str) -> String {
        format!("postgres://wedsync@127.0.0.1:{}/{name}", self.port)
    }

    fn data(&self) -> String {
        self.dir.join("data").display().to_string()
    }

    fn tool(&self, name: &str, args: &[&str]) -> Result<(), String> {
        let program = self.bin.join(name);
        let program = if program.exists() { program } else { PathBuf::from(name) };
        let mut command = match self.owner {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        run(command.args(args).current_dir(&self.dir))
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// The newest `/usr/lib/postgresql/N/bin` (Debian's layout), else the folder of an
/// `initdb` on the PATH.
fn binaries() -> Option<PathBuf> {
    let versions = std::fs::read_dir("/usr/lib/postgresql").ok().into_iter().flatten().flatten();
    let newest = versions
        .filter_map(|e| e.file_name().to_str().and_then(|v| v.parse::<u32>().ok()).map(|v| (v, e.path())))
        .max_by_key(|(v, _)| *v)
        .map(|(_, p)| p.join("bin"))
        .filter(|bin| bin.join("initdb").exists());
    newest.or_else(|| which("initdb")?.parent().map(Path::to_path_buf))
}
