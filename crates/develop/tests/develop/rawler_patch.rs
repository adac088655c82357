//! The patched rawler (vendor/rawler/PATCHED.md) finds each camera by parsing only the
//! database entries that name it, and reads its lens table from lines the build script
//! writes: every camera of the full table must come back the same through the quick
//! look-up, on a loader that has not parsed the full table, and every lens the same as
//! from the TOML.

use rawler::decoders::RawLoader;

#[test]
fn every_camera_is_found_by_the_lazy_look_up() {
    let full = RawLoader::new();
    let cameras = full.get_cameras();
    assert!(cameras.len() > 1000, "the database holds {} cameras", cameras.len());
    let mut checked = 0;
    for ((make, model, mode), camera) in cameras {
        let lazy = RawLoader::new();
        let found = lazy.camera(make, model, mode);
        let mut found = found.unwrap_or_else(|| panic!("{make} {model} {mode:?} not found"));
        let mut camera = camera.clone();
        // A hash map, whose order differs between loaders: compared as a map, then cleared.
        assert_eq!(found.color_matrix, camera.color_matrix, "{make} {model} {mode:?}");
        found.color_matrix.clear();
        camera.color_matrix.clear();
        assert_eq!(format!("{found:?}"), format!("{camera:?}"), "{make} {model} {mode:?}");
        checked += 1;
    }
    assert_eq!(checked, cameras.len());
}

#[test]
fn an_unknown_camera_is_still_unknown() {
    assert!(RawLoader::new().camera("Canon", "EOS 1D Mark XX", "").is_none());
}

#[test]
fn the_lens_table_from_the_build_script_matches_the_toml() {
    let lines = rawler::lens::get_lenses();
    let toml = rawler::lens::lenses_from_toml();
    assert!(toml.len() > 500, "the database holds {} lenses", toml.len());
    assert_eq!(lines.len(), toml.len());
    for (a, b) in lines.iter().zip(&toml) {
        assert_eq!(a, b);
    }
}
