//! XMP sidecars: the file an editor (Lightroom, Bridge, Photo Mechanic, Capture One) writes
//! beside a camera file, as `IMG_0001.xmp` or `IMG_0001.CR2.xmp`, and the properties of one
//! namespace in it. Parsed as XML with namespaces, so both RDF forms count —
//! `<rdf:Description xmp:Rating="4"/>` and `<xmp:Rating>4</xmp:Rating>` — whatever prefix
//! the file binds, and a property of another namespace or a comment naming one does not.

use std::path::{Path, PathBuf};

use quick_xml::events::Event;
use quick_xml::name::{Namespace, ResolveResult};
use quick_xml::NsReader;

/// The sidecar beside `photo`, if there is a readable one: its path and text.
pub fn sidecar_of(photo: &Path) -> Option<(PathBuf, String)> {
    let mut with_suffix = photo.as_os_str().to_owned();
    with_suffix.push(".xmp");
    let candidates = [photo.with_extension("xmp"), photo.with_extension("XMP"), PathBuf::from(with_suffix)];
    candidates.into_iter().find_map(|p| std::fs::read_to_string(&p).ok().map(|text| (p, text)))
}

/// Calls `visit(name, value)` for every property of `namespace` in `xmp`, attribute or
/// element, in document order. What is malformed ends the walk: a broken sidecar never
/// stops a photo.
pub fn properties(xmp: &str, namespace: &[u8], mut visit: impl FnMut(&[u8], &str)) {
    let ours = |ns: &ResolveResult| matches!(ns, ResolveResult::Bound(Namespace(n)) if *n == namespace);
    let mut reader = NsReader::from_str(xmp);
    // The property whose text is being read, if any.
    let mut inside: Option<Vec<u8>> = None;
    loop {
        match reader.read_event() {
            Ok(Event::Start(e)) | Ok(Event::Empty(e)) => {
                for attr in e.attributes().flatten() {
                    let (ns, local) = reader.resolve_attribute(attr.key);
                    if ours(&ns) {
                        visit(local.as_ref(), String::from_utf8_lossy(&attr.value).trim());
                    }
                }
                let (ns, local) = reader.resolve_element(e.name());
                inside = ours(&ns).then(|| local.as_ref().to_vec());
            }
            Ok(Event::Text(t)) => {
                if let (Some(name), Ok(text)) = (&inside, t.decode()) {
                    visit(name, text.trim());
                }
            }
            Ok(Event::End(_)) => inside = None,
            Ok(Event::Eof) | Err(_) => return,
            Ok(_) => {}
        }
    }
}
