use base64::Engine;

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs. Keys are ASCII without
/// spaces or commas (the protocol's rule); pairs with another key are left out rather
/// than sent malformed.
pub fn encode_metadata(pairs: &[(&str, &str)]) -> String {
    let engine = base64::engine::general_purpose::STANDARD;
    pairs
        .iter()
        .filter(|(k, _)| !k.is_empty() && k.bytes().all(|b| b.is_ascii_graphic() && b != b','))
        .map(|(k, v)| if v.is_empty() { k.to_string() } else { format!("{k} {}", engine.encode(v)) })
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_base64_and_bad_keys_are_dropped() {
        let header = encode_metadata(&[
            ("filename", "IMG_0001.jpg"),
            ("empty", ""),
            ("bad key", "x"),
            ("bad,key", "x"),
            ("sha256", "ab"),
        ]);
        assert_eq!(header, "filename SU1HXzAwMDEuanBn,empty,sha256 YWI=");
    }
}
