// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Says which build is installed without opening a window (packaging checks, support).
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("wedsync-app {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    // WebKitGTK's accelerated compositing, on a software GL stack (no GPU driver, a VM,
    // Xvfb), made the queue's frames three times slower: scrolling 10,000 rows while
    // uploads stream went from p95 59–76 ms to 22 ms without it (README, "The app"). The
    // list draws fine without it, so it is off unless the user set the variable.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        // Set before any thread starts (nothing else reads the environment yet).
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    wedsync_app::run();
}
