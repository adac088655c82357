//! XMP sidecars: the star rating and colour label an editor (Lightroom, Photo Mechanic,
//! Bridge, Capture One) wrote beside a camera file, as `IMG_0001.xmp` or
//! `IMG_0001.CR2.xmp`. Parsed as XML with namespaces, so both RDF forms count —
//! `<rdf:Description xmp:Rating="4"/>` and `<xmp:Rating>4</xmp:Rating>` — whatever prefix
//! the file binds to the XMP namespace, and a `Rating` of another namespace or a comment
//! mentioning one does not.

use std::path::Path;

/// The XMP basic namespace, where `Rating` and `Label` live.
const XMP: &[u8] = b"http://ns.adobe.com/xap/1.0/";

/// What a sidecar says of its photo.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sidecar {
    /// -1 (rejected) to 5 stars.
    pub rating: Option<i64>,
    /// The colour label's name (`Red`, `Yellow`…), as the editor wrote it.
    pub label: Option<String>,
}

impl Sidecar {
    /// The sidecar beside `photo`, if there is a readable one.
    pub fn beside(photo: &Path) -> Option<Sidecar> {
        let (_, text) = wedsync_develop::xmp::sidecar_of(photo)?;
        Some(Sidecar::parse(&text))
    }

    /// Reads the rating and label from XMP text; what is malformed or out of range is left
    /// out (a broken sidecar never stops a photo).
    pub fn parse(xmp: &str) -> Sidecar {
        let mut sidecar = Sidecar::default();
        wedsync_develop::xmp::properties(xmp, XMP, |name, value| sidecar.set(name, value));
        sidecar
    }

    fn set(&mut self, property: &[u8], value: &str) {
        let value = value.trim();
        match property {
            b"Rating" => {
                if let Ok(r) = value.parse::<i64>() {
                    self.rating = Some(r).filter(|r| (-1..=5).contains(r));
                }
            }
            b"Label" if !value.is_empty() => self.label = Some(value.to_string()),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">"#;
    const TAIL: &str = "</rdf:RDF></x:xmpmeta>";

    fn xmp(body: &str) -> String {
        format!("{HEAD}{body}{TAIL}")
    }

    #[test]
    fn both_rdf_forms_and_any_prefix_give_the_rating_and_label() {
        let attributes = xmp(
            r#"<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="4" xmp:Label="Red"/>"#,
        );
        assert_eq!(Sidecar::parse(&attributes), Sidecar { rating: Some(4), label: Some("Red".into()) });
        let elements = xmp(
            r#"<rdf:Description xmlns:basic="http://ns.adobe.com/xap/1.0/"><basic:Rating> 5 </basic:Rating></rdf:Description>"#,
        );
        assert_eq!(Sidecar::parse(&elements).rating, Some(5));
        let rejected = xmp(r#"<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="-1"/>"#);
        assert_eq!(Sidecar::parse(&rejected).rating, Some(-1));
    }

    /// Today's text search read these as ratings; none is one.
    #[test]
    fn other_namespaces_comments_bad_values_and_broken_files_give_no_rating() {
        let other = xmp(r#"<rdf:Description xmlns:xmp="http://example.com/not-xmp/" xmp:Rating="3"/>"#);
        assert_eq!(Sidecar::parse(&other).rating, None);
        let comment = xmp(r#"<!-- xmp:Rating="5" --><rdf:Description/>"#);
        assert_eq!(Sidecar::parse(&comment).rating, None);
        let out_of_range =
            xmp(r#"<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="99"/>"#);
        assert_eq!(Sidecar::parse(&out_of_range).rating, None);
        assert_eq!(Sidecar::parse("<x:xmpmeta xmp:Rating='4'"), Sidecar::default());
    }

    #[test]
    fn the_sidecar_is_found_beside_the_photo_in_either_naming() {
        let dir = tempfile::tempdir().expect("tempdir");
        let raw = dir.path().join("IMG_0001.CR2");
        assert_eq!(Sidecar::beside(&raw), None);
        let body = xmp(r#"<rdf:Description xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:Rating="2"/>"#);
        std::fs::write(dir.path().join("IMG_0001.CR2.xmp"), &body).expect("write");
        assert_eq!(Sidecar::beside(&raw).and_then(|s| s.rating), Some(2));
    }
}
