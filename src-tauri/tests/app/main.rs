//! The desktop app end to end: the real `wedsync-app` binary on a virtual display (Xvfb),
//! driven through `tauri-driver` and `WebKitWebDriver` as a photographer would use it,
//! against our reference server, which the test stops and starts. Screenshots of every
//! screen, light and dark, are written to `artifacts/screenshots/` (or
//! `$WEDSYNC_SCREENSHOTS`). It drives the binary built with it, or `$WEDSYNC_APP` (the one
//! the .deb installed). Without the drivers or Xvfb the test says SKIPPED and why;
//! `WEDSYNC_REQUIRE_APP=1` (as `scripts/test` sets) makes that a failure.

#[allow(dead_code)]
#[path = "../../../crates/engine/tests/engine/exfat.rs"]
mod exfat;
#[path = "../../../crates/engine/tests/engine/photos.rs"]
mod photos;
mod smooth;
mod webdriver;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::json;
use webdriver::{Session, Tools};

/// Our server on a fixed port, in a runtime of its own (four workers, so that the server is
/// not what limits the smoothness benchmark's ~200 requests a second): dropping it stops it
/// the hard way (every connection cut), as a server that goes away does.
struct Server(Option<tokio::runtime::Runtime>);

impl Server {
    fn start(data: &Path, port: u16) -> Server {
        let listener = std::net::TcpListener::bind(("127.0.0.1", port)).expect("listen");
        listener.set_nonblocking(true).expect("nonblocking");
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(4)
            .enable_all()
            .build()
            .expect("runtime");
        let ingest = wedsync_ingest::open_local(data, wedsync_ingest::Limits::default()).expect("ingest");
        runtime.spawn(async move {
            let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
            wedsync_ingest::serve(ingest, listener, std::future::pending()).await
        });
        Server(Some(runtime))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

fn screenshots() -> PathBuf {
    let dir = std::env::var_os("WEDSYNC_SCREENSHOTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../artifacts/screenshots"));
    std::fs::create_dir_all(&dir).expect("screenshot folder");
    dir
}

/// The frames of `samples`, copied with their capture time moved (exiftool), so the engine
/// sees new photos, not the same ones again.
fn new_frames(from: &[PathBuf], into: &Path, when: &str) -> Vec<PathBuf> {
    std::fs::create_dir_all(into).expect("mkdir");
    from.iter()
        .map(|sample| {
            let copy = into.join(sample.file_name().expect("a name"));
            std::fs::copy(sample, &copy).expect("copy");
            let set = format!("-DateTimeOriginal={when}");
            exfat::run("exiftool", &["-q", "-overwrite_original", &set, copy.to_str().expect("utf-8")])
                .expect("exiftool");
            copy
        })
        .collect()
}

const ROWS: &str = "return [...document.querySelectorAll('[role=row]')]
    .map(r => r.querySelector('.name').textContent + ' ' + r.querySelector('.state').textContent)";

/// Every row's state is `state`, and there are `n`.
fn all(n: usize, state: &str) -> String {
    format!(
        "const rows = [...document.querySelectorAll('[role=row] .state')].map(s => s.textContent);
         return rows.length === {n} && rows.every(s => s === '{state}') && !document.querySelector('[role=alert]')"
    )
}

async fn theme(session: &Session, which: &str) {
    session.click(&format!("[data-theme-choice={which}]")).await;
    let script = format!("return document.documentElement.dataset.theme === '{which}'");
    session.until(&format!("the {which} theme"), Duration::from_secs(5), &script).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photographer_sends_a_gallery_and_a_card_through_the_window() {
    let tools = match Tools::find() {
        Ok(tools) => tools,
        Err(why) => {
            assert!(
                std::env::var_os("WEDSYNC_REQUIRE_APP").is_none(),
                "the app test is required here: {why}"
            );
            eprintln!("SKIPPED: the app cannot be driven here: {why}");
            return;
        }
    };
    let cards = exfat::cards_can_be_made();
    let dir = tempfile::tempdir().expect("tempdir");
    let (home, data, root) = (dir.path().join("home"), dir.path().join("data"), dir.path().join("media"));
    for d in [&home, &data, &root] {
        std::fs::create_dir_all(d).expect("mkdir");
    }
    let samples_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/samples");
    let samples: Vec<PathBuf> =
        ["canon-eos30d-IMG_5952.CR2", "canon-eos30d-IMG_5952-ljpeg.dng", "kodak-dc50.KDC"]
            .iter()
            .map(|name| samples_dir.join(name))
            .collect();
    let gallery = dir.path().join("gallery");
    std::fs::create_dir_all(&gallery).expect("gallery");
    for sample in &samples {
        std::fs::copy(sample, gallery.join(sample.file_name().expect("name"))).expect("copy");
    }
    let token = webdriver::token(&data, "alice");
    let port = webdriver::free_port();
    // A first start: no destination yet (it is set in the window). Originals are sent too:
    // a card is safe to format once its originals are on the server.
    std::fs::write(
        home.join("config.toml"),
        format!(
            "# written by the test\n[develop]\nbackend = \"cpu\"\n\
             [watch]\noriginals = true\ncard_roots = [{root:?}]\nsettle_seconds = 1\n"
        ),
    )
    .expect("config");
    let endpoint = format!("http://127.0.0.1:{port}/files");

    let (session, running) = webdriver::open_app(&tools, &home, dir.path()).await;
    let shots = screenshots();
    session
        .until("the window", Duration::from_secs(30), "return document.querySelector('h1')?.textContent")
        .await;
    theme(&session, "light").await;

    // The window opens on the settings, saying what to do; the token goes to the keyring.
    session
        .until(
            "the first start's settings",
            Duration::from_secs(20),
            "return document.querySelector('[role=alert]')?.textContent.includes('no destination yet')
                && !!document.querySelector('input[name=endpoint]')",
        )
        .await;
    session.screenshot(&shots.join("settings-first-start-light.png")).await;
    session.fill("input[name=endpoint]", "127.0.0.1/files").await;
    session.click("button[type=submit]").await;
    session
        .until(
            "the address's problem",
            Duration::from_secs(10),
            "return document.querySelector('#endpoint-error')?.textContent.includes('https://')",
        )
        .await;
    session.fill("input[name=endpoint]", &endpoint).await;
    session.fill("input[name=token]", &token).await;
    session.click("button[type=submit]").await;
    session
        .until(
            "saved, the engine started",
            Duration::from_secs(30),
            "return document.querySelector('[role=status]')?.textContent.includes('Saved')
                && !document.querySelector('[role=alert]')?.textContent.includes('no destination')
                && document.querySelector('#token-note').textContent.includes('kept in')",
        )
        .await;
    assert_eq!(
        running.secrets.lookup(&endpoint).as_deref(),
        Some(token.as_str()),
        "the token is in the keyring"
    );
    let config = std::fs::read_to_string(home.join("config.toml")).expect("config");
    assert!(config.contains(&endpoint) && !config.contains(&token), "the address, never the token: {config}");
    assert!(
        config.contains("# written by the test") && config.contains("card_roots"),
        "the rest kept: {config}"
    );
    session.click("nav button:nth-child(1)").await;
    session.screenshot(&shots.join("queue-empty-light.png")).await;

    // The server is down: the gallery develops, then waits, and the window says why.
    let add = "window.__TAURI_INTERNALS__.invoke('add_paths', {paths: arguments[0]}); return true";
    session.js(add, json!([[gallery]])).await;
    session
        .until(
            "the unreachable banner over the waiting gallery",
            Duration::from_secs(180),
            "return document.querySelector('[role=alert]')?.textContent.includes('cannot be reached')
                && document.querySelectorAll('[role=row]').length === 3",
        )
        .await;
    session.screenshot(&shots.join("queue-unreachable-light.png")).await;

    // It comes back: the uploads go on by themselves and every row reaches verified.
    let server = Server::start(&data, port);
    session.until("three rows verified", Duration::from_secs(180), &all(3, "done")).await;
    println!("{}", session.js(ROWS, json!([])).await);

    // The studio admin makes a preset: a wrong long edge is refused against its field,
    // fixed, saved, previewed on the newest photo, and ticked for new files.
    session.click("nav button:nth-child(3)").await;
    session
        .until(
            "the presets",
            Duration::from_secs(10),
            "return document.querySelectorAll('aside li').length >= 5",
        )
        .await;
    session.click("aside .actions button:first-child").await;
    session.fill("input[name=name]", "proofs").await;
    session.fill("input[name=long_edge]", "5").await;
    session.click("button[type=submit]").await;
    session
        .until(
            "the field's problem",
            Duration::from_secs(10),
            "return document.querySelector('#long_edge-error')?.textContent.includes('long_edge')",
        )
        .await;
    session.fill("input[name=long_edge]", "800").await;
    session.click("button[type=submit]").await;
    session
        .until(
            "saved",
            Duration::from_secs(10),
            "return document.querySelector('[role=status]').textContent.includes('Saved proofs')",
        )
        .await;
    assert!(home.join("presets/proofs.toml").exists(), "the studio's file, in WEDSYNC_HOME/presets");
    session.click_xpath("//button[normalize-space()='Preview']").await;
    session
        .until(
            "the preview",
            Duration::from_secs(120),
            "return document.querySelector('.preview p')?.textContent.includes('×')",
        )
        .await;
    let previewed = session.js("return document.querySelector('.preview p').textContent", json!([])).await;
    println!("preview: {previewed}");
    let edge = session
        .js("const m = document.querySelector('.preview p').textContent.match(/(\\d+)×(\\d+)/); return Math.max(+m[1], +m[2])", json!([]))
        .await;
    assert!(edge.as_u64().is_some_and(|e| e > 0 && e <= 800), "the preview is at most 800 px: {previewed}");
    // And says the look the photo got (the newest photo of the gallery is a RAW).
    let look = session.js("return document.querySelector('.preview').textContent", json!([])).await;
    assert!(look.as_str().is_some_and(|t| t.contains("Look: ")), "the preview says its look: {look}");
    session.screenshot(&shots.join("presets-light.png")).await;
    theme(&session, "dark").await;
    session.screenshot(&shots.join("presets-dark.png")).await;
    theme(&session, "light").await;
    session.click_xpath("//li[.//strong[text()='proofs']]//input[@type='checkbox']").await;
    session
        .until(
            "in use",
            Duration::from_secs(10),
            "return document.querySelector('[role=status]').textContent.includes('proofs')",
        )
        .await;
    session.click("nav button:nth-child(1)").await;

    // Paused, new frames are taken in but nothing is sent; resumed, they are.
    session.click(".controls button").await;
    session
        .until(
            "paused",
            Duration::from_secs(10),
            "return document.querySelector('.controls button').textContent.includes('Resume all')",
        )
        .await;
    let batch = new_frames(&samples[..2], &dir.path().join("later"), "2021:06:05 14:00:00");
    session.js(add, json!([batch])).await;
    session
        .until(
            "five rows",
            Duration::from_secs(60),
            "return document.querySelectorAll('[role=row]').length === 5",
        )
        .await;
    tokio::time::sleep(Duration::from_secs(8)).await;
    let rows = session.js(ROWS, json!([])).await;
    let done = rows
        .as_array()
        .map_or(0, |r| r.iter().filter(|r| r.as_str().is_some_and(|r| r.ends_with(" done"))).count());
    assert_eq!(done, 3, "nothing new is sent while paused: {rows}");
    session.click(".controls button").await;
    session.until("five rows verified", Duration::from_secs(240), &all(5, "done")).await;
    let uses = session
        .js("return [...document.querySelectorAll('[role=row] .what')].filter(w => w.textContent.includes('proofs')).length", json!([]))
        .await;
    assert_eq!(uses, json!(2), "the new frames were developed to the new preset too");
    // Every frame with an embedded preview has its thumbnail (the KDC carries none).
    session
        .until(
            "four thumbnails",
            Duration::from_secs(30),
            "return [...document.querySelectorAll('.thumb img')].filter(i => i.complete && i.naturalWidth > 0).length === 4",
        )
        .await;
    session.screenshot(&shots.join("queue-light.png")).await;
    theme(&session, "dark").await;
    session.screenshot(&shots.join("queue-dark.png")).await;

    // A card with frames already sent is inserted: it appears, and is safe to format.
    session.click("nav button:nth-child(2)").await;
    let card = if cards {
        let image = dir.path().join("card.img");
        exfat::format(&image, "EOS_DIGITAL");
        let staging = exfat::Inserted::insert(&image, &dir.path().join("staging"));
        std::fs::create_dir_all(staging.at.join("DCIM/100CANON")).expect("DCIM");
        std::fs::copy(&samples[0], staging.at.join("DCIM/100CANON/IMG_5952.CR2")).expect("a frame");
        drop(staging);
        let card = exfat::Inserted::insert(&image, &root.join("EOS_DIGITAL"));
        session
            .until(
                "the card safe to format",
                Duration::from_secs(120),
                "return document.querySelector('li.safe .verdict')?.textContent.includes('Safe to format')",
            )
            .await;
        Some(card)
    } else {
        None
    };
    session.screenshot(&shots.join("cards-dark.png")).await;
    theme(&session, "light").await;
    session.screenshot(&shots.join("cards-light.png")).await;

    settings(&session, &running, &home, &shots).await;

    // While the app runs, the CLI says the app holds the journal.
    let cli = PathBuf::from(env!("CARGO_BIN_EXE_wedsync-app")).with_file_name("wedsync");
    assert!(cli.exists(), "{} (cargo test --workspace builds it)", cli.display());
    let frame = new_frames(&samples[..1], &dir.path().join("by-cli"), "2021:06:05 16:00:00");
    let upload = |bus: &str| {
        std::process::Command::new(&cli)
            .arg("upload")
            .args(&frame)
            .env("WEDSYNC_HOME", &home)
            .env("DBUS_SESSION_BUS_ADDRESS", bus)
            .output()
            .expect("wedsync upload")
    };
    let refused = upload(&running.secrets.bus);
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success() && said.contains("wedsync-app"), "the app holds the journal: {said}");

    // The app closed, the CLI sends a frame (its token from the keyring) and the app, opened
    // again on the same journal, shows it among the rest.
    session.close().await;
    drop(card);
    let bus = running.secrets.bus.clone();
    let mut sent = upload(&bus);
    for _ in 0..50 {
        if sent.status.success() || !String::from_utf8_lossy(&sent.stderr).contains("in use") {
            break;
        }
        // The app lets go of the journal as its process ends.
        tokio::time::sleep(Duration::from_millis(200)).await;
        sent = upload(&bus);
    }
    assert!(sent.status.success(), "wedsync upload: {}", String::from_utf8_lossy(&sent.stderr));
    drop(running);
    let (session, running) = webdriver::open_app(&tools, &home, dir.path()).await;
    session.until("six rows verified, one sent by the CLI", Duration::from_secs(60), &all(6, "done")).await;
    session.close().await;
    drop(running);
    drop(server);
}

/// The settings screen after the uploads: what was found to develop on, the cache (cleared
/// of what can be made again), start at login on and off again.
async fn settings(session: &Session, running: &webdriver::Running, home: &Path, shots: &Path) {
    session.click("nav button:nth-child(4)").await;
    session
        .until(
            "the settings",
            Duration::from_secs(10),
            "return document.querySelector('.cache-size')?.textContent.includes('B')
                && document.querySelectorAll('.found li').length > 0",
        )
        .await;
    session.screenshot(&shots.join("settings-light.png")).await;
    theme(session, "dark").await;
    session.screenshot(&shots.join("settings-dark.png")).await;
    theme(session, "light").await;
    let thumbs = home.join("cache/thumbs");
    assert!(thumbs.read_dir().is_ok_and(|mut d| d.next().is_some()), "thumbnails were cached");
    session.click_xpath("//button[normalize-space()='Clear cache']").await;
    session
        .until(
            "the cache cleared",
            Duration::from_secs(10),
            "return document.querySelector('[role=status]').textContent.includes('Cache cleared')",
        )
        .await;
    assert!(thumbs.read_dir().map_or(true, |mut d| d.next().is_none()), "thumbnails cleared");

    let autostart = running.home.join(".config/autostart");
    let entries = || std::fs::read_dir(&autostart).map_or(0, |d| d.count());
    session.click("input[name=start_at_login]").await;
    session
        .until(
            "start at login",
            Duration::from_secs(10),
            "return document.querySelector('[role=status]').textContent.includes('starts when you log in')",
        )
        .await;
    assert_eq!(entries(), 1, "an autostart entry in {}", autostart.display());
    session.click("input[name=start_at_login]").await;
    session
        .until(
            "not at login",
            Duration::from_secs(10),
            "return document.querySelector('[role=status]').textContent.includes('no longer')",
        )
        .await;
    assert_eq!(entries(), 0, "the autostart entry removed");
}
