// No console window on Windows release builds.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

fn main() {
    // Says which build is installed without opening a window (packaging checks, support).
    if std::env::args().nth(1).as_deref() == Some("--version") {
        println!("wedsync-app {}", env!("CARGO_PKG_VERSION"));
        return;
    }
    wedsync_app::compositing::choose();
    wedsync_app::run();
}
