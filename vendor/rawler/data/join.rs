use std::env;
use std::fs::File;
use std::io::prelude::*;
use std::path::Path;

extern crate glob;
use self::glob::glob;
extern crate toml;
use toml::Value;
extern crate rustc_version;
use rustc_version::{Version, version};

fn main() {
  join_cameras();
  join_lenses();
}

fn join_cameras() {
  let out_dir = env::var("OUT_DIR").expect("Missing ENV OUT_DIR");
  let dest_path = Path::new(&out_dir).join("cameras.toml");
  let mut out = File::create(dest_path).expect("Unable to create output file");

  for entry in glob("./data/cameras/*/**/*.toml").expect("Failed to read glob pattern") {
    out.write_all(b"[[cameras]]\n").expect("Failed to write camera TOML");
    let path = entry.expect("Invalid glob entry");
    let mut f = File::open(&path).expect("failed to open camera definition file");
    let mut toml = String::new();
    f.read_to_string(&mut toml).expect("Failed to read camera definition file");

    {
      match toml.parse::<Value>() {
        Ok(_) => {}
        Err(e) => panic!("Error parsing {:?}: {:?}", path, e),
      };
    }

    out.write_all(&toml.into_bytes()).expect("Failed to write");
    out.write_all(b"\n").expect("Failed to write");
  }

  // Check for a minimum version
  if version().expect("version failed") < Version::parse("1.31.0").expect("version parse failed") {
    println!("cargo:rustc-cfg=needs_chunks_exact");
  }
}

fn join_lenses() {
  let out_dir = env::var("OUT_DIR").expect("Missing ENV OUT_DIR");
  let dest_path = Path::new(&out_dir).join("lenses.toml");
  let mut out = File::create(dest_path).expect("Unable to create output file");

  // WedSync patch: the lens table is also written as lenses.tsv, a line per lens, which
  // the library reads in well under a millisecond instead of parsing the TOML (~40 ms).
  let mut tsv = File::create(Path::new(&out_dir).join("lenses.tsv")).expect("Unable to create output file");

  for entry in glob("./data/lenses/*/**/*.toml").expect("Failed to read glob pattern") {
    let path = entry.expect("Invalid glob entry");
    let mut f = File::open(&path).expect("failed to open lens definition file");
    let mut toml = String::new();
    f.read_to_string(&mut toml).expect("Failed to read lens definition file");

    {
      match toml.parse::<Value>() {
        Ok(value) => write_lens_lines(&mut tsv, &value, &path),
        Err(e) => panic!("Error parsing {:?}: {:?}", path, e),
      };
    }

    out.write_all(&toml.into_bytes()).expect("Failed to write");
    out.write_all(b"\n").expect("Failed to write");
  }

  // Check for a minimum version
  if version().expect("version failed") < Version::parse("1.31.0").expect("version parse failed") {
    println!("cargo:rustc-cfg=needs_chunks_exact");
  }
}

/// One line per lens: the fields `build_lens_database` reads, tab-separated, each written
/// `=value` when present and empty when absent; ranges as four integers.
fn write_lens_lines(out: &mut File, value: &Value, path: &Path) {
  let lenses = value.get("lenses").and_then(Value::as_array).unwrap_or_else(|| panic!("{path:?}: no [[lenses]]"));
  for lens in lenses {
    let text = |key: &str| match lens.get(key) {
      None => String::new(),
      Some(v) => {
        let v = v.as_str().unwrap_or_else(|| panic!("{path:?}: {key} must be a string"));
        assert!(!v.contains(['\t', '\n']), "{path:?}: {key} holds a tab or a newline");
        format!("={v}")
      }
    };
    let int = |key: &str| lens.get(key).and_then(Value::as_integer).map(|v| format!("={}", v as u32)).unwrap_or_default();
    let range = |key: &str| {
      let pairs = lens.get(key).and_then(Value::as_array).unwrap_or_else(|| panic!("{path:?}: {key} missing"));
      pairs[..2]
        .iter()
        .flat_map(|pair| {
          let pair = pair.as_array().unwrap_or_else(|| panic!("{path:?}: {key} must hold pairs"));
          [0, 1].map(|i| pair[i].as_integer().unwrap_or_else(|| panic!("{path:?}: {key} must hold integers")) as u32)
        })
        .map(|v| v.to_string())
        .collect::<Vec<_>>()
        .join("\t")
    };
    let fields = [
      text("key"),
      int("lens_id"),
      int("lens_subid"),
      text("nikon_id"),
      text("olympus_id"),
      text("mount"),
      text("make"),
      text("model"),
      range("focal_range"),
      range("aperture_range"),
      text("name"),
    ];
    writeln!(out, "{}", fields.join("\t")).expect("Failed to write");
  }
}
