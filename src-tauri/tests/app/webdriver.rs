//! Just enough of W3C WebDriver to drive the app: `tauri-driver` in front of
//! `WebKitWebDriver`, which starts the real app binary with WebKit's automation on.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::{json, Value};

/// Starts (`true`) or stops (`false`) a repaint every frame of one almost transparent
/// pixel in the window's corner (see [`Session::screenshot`]).
const REPAINT: &str = r#"
    const on = arguments[0];
    let pixel = document.getElementById('__repaint');
    if (!on) { pixel?.remove(); return true; }
    if (!pixel) {
        pixel = document.createElement('div');
        pixel.id = '__repaint';
        pixel.style.cssText = 'position:fixed;right:0;bottom:0;width:1px;height:1px;pointer-events:none';
        document.body.appendChild(pixel);
        let n = 0;
        const tick = () => {
            if (!pixel.isConnected) return;
            pixel.style.background = n++ % 2 ? 'rgba(0,0,0,0.01)' : 'rgba(0,0,0,0.02)';
            requestAnimationFrame(tick);
        };
        tick();
    }
    return true;
"#;

/// The key under which WebDriver names an element.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A child process killed when dropped, so a failing test leaves nothing running.
pub struct Kill(pub Child);

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A child in a process group of its own, which is killed whole when dropped:
/// tauri-driver's WebKitWebDriver, and the app that one starts, go with it.
pub struct KillGroup(Child);

impl KillGroup {
    fn spawn(command: &mut Command) -> KillGroup {
        use std::os::unix::process::CommandExt;
        KillGroup(command.process_group(0).spawn().expect("start tauri-driver"))
    }
}

impl Drop for KillGroup {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-KILL", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.wait();
    }
}

/// The tools the test needs, or what is missing (installed by `scripts/install-deps`).
pub struct Tools {
    pub tauri_driver: PathBuf,
    pub native_driver: PathBuf,
}

impl Tools {
    pub fn find() -> Result<Tools, String> {
        let cached = dirs_home().join(".cache/wedsync/tools/bin/tauri-driver");
        let tauri_driver = which("tauri-driver").or_else(|| cached.exists().then_some(cached));
        let native_driver = which("WebKitWebDriver");
        // The OS keyring the app keeps its token in: a private D-Bus bus with GNOME Keyring.
        let others = ["Xvfb", "dbus-daemon", "dbus-send", "gnome-keyring-daemon", "secret-tool"];
        let mut missing: Vec<&str> = others.into_iter().filter(|tool| which(tool).is_none()).collect();
        match (tauri_driver, native_driver) {
            (Some(tauri_driver), Some(native_driver)) if missing.is_empty() => {
                Ok(Tools { tauri_driver, native_driver })
            }
            (t, n) => {
                missing.extend(
                    [("tauri-driver", t.is_none()), ("WebKitWebDriver", n.is_none())]
                        .into_iter()
                        .filter_map(|(name, gone)| gone.then_some(name)),
                );
                Err(format!("missing {missing:?} (scripts/install-deps installs them)"))
            }
        }
    }
}

fn dirs_home() -> PathBuf {
    std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default()
}

fn which(tool: &str) -> Option<PathBuf> {
    let out = Command::new("sh").args(["-c", &format!("command -v {tool}")]).output().ok()?;
    let path = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (out.status.success() && !path.is_empty()).then(|| PathBuf::from(path))
}

/// A virtual X display; stopped when dropped, with SIGTERM so Xvfb removes its lock file
/// (a SIGKILLed Xvfb leaves `/tmp/.X{n}-lock` behind, and enough of those once filled the range).
pub struct Display {
    pub name: String,
    xvfb: Child,
}

impl Drop for Display {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.xvfb.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.xvfb.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.xvfb.kill();
        let _ = self.xvfb.wait();
    }
}

/// Whether display `n` is taken: its lock file names a live process. A lock left by a dead
/// one (an Xvfb killed outright) is removed, with its socket, so the number is free again.
fn display_taken(n: u32) -> bool {
    let lock = format!("/tmp/.X{n}-lock");
    let Ok(text) = std::fs::read_to_string(&lock) else {
        return Path::new(&lock).exists();
    };
    match text.trim().parse::<u32>() {
        Ok(pid) if !Path::new(&format!("/proc/{pid}")).exists() => {
            let _ = std::fs::remove_file(&lock);
            let _ = std::fs::remove_file(format!("/tmp/.X11-unix/X{n}"));
            false
        }
        _ => true,
    }
}

impl Display {
    pub fn start() -> Display {
        for n in 90..200 {
            if display_taken(n) {
                continue;
            }
            let child = Command::new("Xvfb")
                .args([&format!(":{n}"), "-screen", "0", "1400x900x24", "-nolisten", "tcp"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start Xvfb");
            let display = Display { name: format!(":{n}"), xvfb: child };
            let socket = format!("/tmp/.X11-unix/X{n}");
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if Path::new(&socket).exists() {
                    return display;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        panic!("no free X display in :90–:199");
    }
}

/// `tauri-driver` on a free port, with the app's environment (it passes it on to
/// WebKitWebDriver, which passes it to the app).
pub struct Driver {
    port: u16,
    _child: KillGroup,
}

impl Driver {
    pub fn start(tools: &Tools, env: &[(&str, &Path)]) -> Driver {
        let (port, native_port) = (free_port(), free_port());
        let mut command = Command::new(&tools.tauri_driver);
        command
            .args(["--port", &port.to_string(), "--native-port", &native_port.to_string()])
            .arg("--native-driver")
            .arg(&tools.native_driver)
            .stdout(Stdio::null());
        for (key, value) in env {
            command.env(key, value);
        }
        let child = KillGroup::spawn(&mut command);
        // Both listen before a session is asked for: tauri-driver forwards to WebKitWebDriver.
        let deadline = Instant::now() + Duration::from_secs(20);
        for listening in [port, native_port] {
            while std::net::TcpStream::connect(("127.0.0.1", listening)).is_err() {
                assert!(
                    Instant::now() < deadline,
                    "tauri-driver or its WebKitWebDriver never listened on {listening}"
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
        Driver { port, _child: child }
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// What keeps the app's window up: its display, its keyring and its driver (the app goes
/// with it).
pub struct Running {
    _driver: Driver,
    pub secrets: SecretService,
    /// The app's $HOME (its autostart entry goes under .config/autostart).
    pub home: PathBuf,
    _display: Display,
}

/// The app's window on a display of its own, `home` its WEDSYNC_HOME; a keyring, a runtime
/// folder and a $HOME of its own are made in `scratch`, so nothing of the user's is
/// touched. The app is the binary built with the tests, or `$WEDSYNC_APP` (`scripts/test`
/// runs the test again on the one its .deb installed).
pub async fn open_app(tools: &Tools, home: &Path, scratch: &Path) -> (Session, Running) {
    let display = Display::start();
    let runtime_dir = scratch.join("xdg");
    let user_home = scratch.join("user");
    for dir in [&runtime_dir, &user_home] {
        std::fs::create_dir_all(dir).expect("app folders");
    }
    let secrets = SecretService::start(scratch);
    let bus = PathBuf::from(&secrets.bus);
    let driver = Driver::start(
        tools,
        &[
            ("DISPLAY", Path::new(&display.name)),
            ("WEDSYNC_HOME", home),
            ("XDG_RUNTIME_DIR", &runtime_dir),
            ("HOME", &user_home),
            ("DBUS_SESSION_BUS_ADDRESS", &bus),
        ],
    );
    let app = std::env::var_os("WEDSYNC_APP")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_wedsync-app")));
    println!("driving {}", app.display());
    let session = Session::open(&driver, &app).await;
    (session, Running { _driver: driver, secrets, home: user_home, _display: display })
}

/// A Secret Service of the test's own — a private D-Bus session bus with GNOME Keyring on
/// it, unlocked, its files in the scratch folder — so the app keeps its token in a real OS
/// keyring without touching the user's. Stopped when dropped.
pub struct SecretService {
    pub bus: String,
    _keyring: Kill,
    _dbus: Kill,
}

impl SecretService {
    fn start(scratch: &Path) -> SecretService {
        let socket = scratch.join("bus");
        // A bus of an earlier window in this scratch folder is gone: its socket file goes too.
        let _ = std::fs::remove_file(&socket);
        let bus = format!("unix:path={}", socket.display());
        let dbus = Kill(
            Command::new("dbus-daemon")
                .args(["--session", "--nofork", &format!("--address={bus}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("start dbus-daemon"),
        );
        wait_for("the D-Bus socket", || socket.exists());
        let mut keyring = Command::new("gnome-keyring-daemon")
            .args(["--foreground", "--components=secrets", "--unlock"])
            .env("DBUS_SESSION_BUS_ADDRESS", &bus)
            .env("XDG_DATA_HOME", scratch.join("keyrings"))
            .env("XDG_RUNTIME_DIR", scratch.join("xdg"))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start gnome-keyring-daemon");
        // --unlock reads the login keyring's password (made with it on first use) from stdin.
        if let Some(mut stdin) = keyring.stdin.take() {
            std::io::Write::write_all(&mut stdin, b"wedsync-test").expect("keyring password");
        }
        let keyring = Kill(keyring);
        wait_for("the Secret Service on the bus", || {
            Command::new("dbus-send")
                .args([
                    &format!("--bus={bus}"),
                    "--print-reply",
                    "--dest=org.freedesktop.DBus",
                    "/org/freedesktop/DBus",
                    "org.freedesktop.DBus.NameHasOwner",
                    "string:org.freedesktop.secrets",
                ])
                .output()
                .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).contains("boolean true"))
        });
        SecretService { bus, _keyring: keyring, _dbus: dbus }
    }

    /// The token kept for `endpoint`, as `secret-tool` (libsecret) finds it.
    pub fn lookup(&self, endpoint: &str) -> Option<String> {
        let out = Command::new("secret-tool")
            .args(["lookup", "service", "wedsync-uploader", "username", endpoint])
            .env("DBUS_SESSION_BUS_ADDRESS", &self.bus)
            .output()
            .expect("secret-tool");
        let token = String::from_utf8_lossy(&out.stdout).trim().to_string();
        (out.status.success() && !token.is_empty()).then_some(token)
    }
}

fn wait_for(what: &str, ready: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "{what} never came up");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A reference server's token for the tests' uploads, made in its `data` folder.
pub fn token(data: &Path, name: &str) -> String {
    let db = wedsync_ingest::open_db(data).expect("db");
    wedsync_ingest::SqliteTokens::new(db).add(name, false).expect("token")
}

/// One WebDriver session: the app's window.
pub struct Session {
    http: reqwest::Client,
    base: String,
}

impl Session {
    pub async fn open(driver: &Driver, app: &Path) -> Session {
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{}", driver.port);
        let capabilities = json!({"capabilities": {"alwaysMatch": {"tauri:options": {"application": app}}}});
        let opened = call(&http, reqwest::Method::POST, &format!("{root}/session"), Some(capabilities)).await;
        let id = opened["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {opened}"))
            .to_string();
        Session { http, base: format!("{root}/session/{id}") }
    }

    async fn post(&self, path: &str, body: Value) -> Value {
        call(&self.http, reqwest::Method::POST, &format!("{}{path}", self.base), Some(body)).await["value"]
            .take()
    }

    /// Runs `script` (a function body; `arguments` are `args`) in the window; its result.
    pub async fn js(&self, script: &str, args: Value) -> Value {
        self.post("/execute/sync", json!({"script": script, "args": args})).await
    }

    /// Runs `script` until it calls its last argument back; the value it was called with.
    pub async fn js_async(&self, script: &str, args: Value) -> Value {
        self.post("/execute/async", json!({"script": script, "args": args})).await
    }

    /// Waits (at most `limit`) until `script` returns something truthy; returns it.
    pub async fn until(&self, what: &str, limit: Duration, script: &str) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.js(script, json!([])).await;
            let truthy = !matches!(&value, Value::Null | Value::Bool(false))
                && value.as_str() != Some("")
                && value.as_array().is_none_or(|a| !a.is_empty());
            if truthy {
                return value;
            }
            if Instant::now() > deadline {
                let shown = self.js("return document.body.innerText", json!([])).await;
                panic!(
                    "{what}: not within {limit:?}; the window shows:\n{}",
                    shown.as_str().unwrap_or_default()
                );
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    async fn find(&self, using: &str, what: &str) -> String {
        let found = self.post("/element", json!({"using": using, "value": what})).await;
        found[ELEMENT].as_str().unwrap_or_else(|| panic!("no element {what}: {found}")).to_string()
    }

    /// Clicks the first element `css` finds, as a pointer would.
    pub async fn click(&self, css: &str) {
        let id = self.find("css selector", css).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Clicks the first element an XPath finds (to find one by its text).
    pub async fn click_xpath(&self, xpath: &str) {
        let id = self.find("xpath", xpath).await;
        self.post(&format!("/element/{id}/click"), json!({})).await;
    }

    /// Types `text` into the field `css` finds, after clearing it.
    pub async fn fill(&self, css: &str, text: &str) {
        let id = self.find("css selector", css).await;
        self.post(&format!("/element/{id}/clear"), json!({})).await;
        self.post(&format!("/element/{id}/value"), json!({"text": text})).await;
    }

    /// Presses and releases `key` (a WebDriver key code, e.g. "\u{E015}" for ArrowDown)
    /// on whatever has the focus, as a keyboard would.
    pub async fn press(&self, key: &str) {
        let actions = json!({"actions": [{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key}, {"type": "keyUp", "value": key}]}]});
        self.post("/actions", actions).await;
    }

    /// A PNG of the window, written to `path`.
    ///
    /// WebKitGTK's WebDriver takes a screenshot after the view's next presentation update.
    /// Without compositing (the app's choice where there is no GPU, as here) a still page
    /// gives none, even when asked to draw, so the screenshot waited until something
    /// next changed on the page: for ever on a still screen. A pixel in the corner whose
    /// colour changes every frame, almost transparent, while the screenshot is taken,
    /// makes that update come.
    pub async fn screenshot(&self, path: &Path) {
        self.js(REPAINT, json!([true])).await;
        let shot = call(&self.http, reqwest::Method::GET, &format!("{}/screenshot", self.base), None).await;
        self.js(REPAINT, json!([false])).await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["value"].as_str().unwrap_or_default())
            .expect("a base64 PNG");
        assert!(png.starts_with(b"\x89PNG"), "not a PNG");
        std::fs::write(path, png).expect("write the screenshot");
        println!("screenshot: {}", path.display());
    }

    pub async fn close(self) {
        call(&self.http, reqwest::Method::DELETE, &self.base, None).await;
    }
}

async fn call(http: &reqwest::Client, method: reqwest::Method, url: &str, body: Option<Value>) -> Value {
    let mut request = http.request(method.clone(), url).timeout(Duration::from_secs(60));
    if let Some(body) = body {
        request = request.header("content-type", "application/json").body(body.to_string());
    }
    let response = request.send().await.unwrap_or_else(|e| panic!("{method} {url}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let value: Value =
        serde_json::from_str(&text).unwrap_or_else(|_| panic!("{method} {url}: {status} {text}"));
    assert!(status.is_success(), "{method} {url}: {status} {value}");
    value
}
