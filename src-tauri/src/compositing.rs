//! Whether WebKitGTK composites the window's layers. On a machine with a GPU it does so on
//! the GPU, which is what it is for. Without one (no DRM render node: a VM, a remote
//! desktop, Xvfb) it composites on a software GL rasteriser, and that costs more than it
//! saves: scrolling 10,000 rows while uploads stream went from p95 19 ms to 48 ms a frame
//! with it (README, "The desktop app"). So on Linux, where no render node exists, the app
//! paints without compositing. A `WEBKIT_DISABLE_COMPOSITING_MODE` the user set is left
//! as it is.

use std::path::Path;

/// The variable WebKitGTK reads at start-up.
pub const VARIABLE: &str = "WEBKIT_DISABLE_COMPOSITING_MODE";

/// True when `dri` (normally `/dev/dri`) holds no render node (`renderD128`, …): no GPU
/// driver that WebKit could composite on.
pub fn software_only(dri: &Path) -> bool {
    !wedsync_develop::has_render_node(dri)
}

/// Turns compositing off where it would run in software. Called first thing in `main`,
/// before any thread starts (setting the environment is only sound then).
pub fn choose() {
    if cfg!(target_os = "linux")
        && std::env::var_os(VARIABLE).is_none()
        && software_only(Path::new("/dev/dri"))
    {
        std::env::set_var(VARIABLE, "1");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_render_node_keeps_compositing_and_its_absence_turns_it_off() {
        let dri = tempfile::tempdir().expect("tempdir");
        assert!(software_only(&dri.path().join("missing")), "no /dev/dri at all");
        std::fs::write(dri.path().join("card0"), b"").expect("card");
        assert!(software_only(dri.path()), "a display node alone is no GPU to render on");
        std::fs::write(dri.path().join("renderD128"), b"").expect("render node");
        assert!(!software_only(dri.path()), "a render node: WebKit composites on the GPU");
    }
}
