//! Parsing of the tus request headers. Pure functions over header text, so that the fuzz
//! target and the unit tests exercise exactly what the handlers run.

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

use crate::error::TusError;

/// The protocol version this server speaks.
pub const TUS_VERSION: &str = "1.0.0";

/// An offset or a length: digits only (no sign, no spaces), fitting in an `i64` as SQLite
/// and `Content-Length` want it.
pub fn parse_u64(name: &'static str, value: &str) -> Result<u64, TusError> {
    if value.is_empty() || value.len() > 19 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(TusError::BadRequest(format!("{name} must be a non-negative integer")));
    }
    let n: u64 = value.parse().map_err(|_| TusError::BadRequest(format!("{name} is out of range")))?;
    if n > i64::MAX as u64 {
        return Err(TusError::BadRequest(format!("{name} is out of range")));
    }
    Ok(n)
}

/// One `Upload-Metadata` pair. The value is the decoded bytes; a key may come without one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaPair {
    pub key: String,
    pub value: Option<Vec<u8>>,
}

/// Pairs one `Upload-Metadata` may hold: far more than any client sends (a file name, a
/// type, a checksum), few enough that no header costs much to parse.
pub const MAX_METADATA_PAIRS: usize = 256;

/// `Upload-Metadata`: comma-separated `key base64value` (or `key` alone) pairs; keys are
/// non-empty, unique, ASCII without spaces or commas; values standard base64; at most
/// [`MAX_METADATA_PAIRS`]. Nothing is trimmed: a pair starting with a space has an empty
/// key, and is refused. Linear in the header's length.
pub fn parse_metadata(value: &str) -> Result<Vec<MetaPair>, TusError> {
    let bad = |why: &str| TusError::BadRequest(format!("Upload-Metadata: {why}"));
    let mut pairs: Vec<MetaPair> = Vec::new();
    if value.is_empty() {
        return Ok(pairs);
    }
    let mut keys = std::collections::HashSet::new();
    for item in value.split(',') {
        if pairs.len() == MAX_METADATA_PAIRS {
            return Err(bad(&format!("more than {MAX_METADATA_PAIRS} pairs")));
        }
        let mut parts = item.split(' ');
        let key = parts.next().unwrap_or("");
        let encoded = parts.next();
        if parts.next().is_some() {
            return Err(bad("a pair has more than a key and a value"));
        }
        if key.is_empty() || !key.bytes().all(|b| b.is_ascii_graphic() && b != b',') {
            return Err(bad("keys must be non-empty printable ASCII without spaces or commas"));
        }
        if !keys.insert(key) {
            return Err(bad("duplicate key"));
        }
        let value = match encoded {
            None => None,
            Some(e) => Some(STANDARD.decode(e).map_err(|_| bad("a value is not valid base64"))?),
        };
        pairs.push(MetaPair { key: key.to_string(), value });
    }
    Ok(pairs)
}

/// Writes metadata back in its canonical header form.
pub fn format_metadata(pairs: &[MetaPair]) -> String {
    pairs
        .iter()
        .map(|p| match &p.value {
            Some(v) => format!("{} {}", p.key, STANDARD.encode(v)),
            None => p.key.clone(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header): 1 to 255 visible ASCII
/// characters, taken as they are — a quoted structured-field string keeps its quotes, since
/// a client sends the same form every time.
pub fn parse_idempotency_key(value: &str) -> Result<String, TusError> {
    if value.is_empty() || value.len() > 255 || !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(TusError::BadRequest("Idempotency-Key must be 1 to 255 visible ASCII characters".into()));
    }
    Ok(value.to_string())
}

/// Checksum algorithms of the checksum extension, in the order advertised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
}

impl Algorithm {
    pub const ALL: [Algorithm; 2] = [Algorithm::Sha1, Algorithm::Sha256];

    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "sha1",
            Algorithm::Sha256 => "sha256",
        }
    }

    fn digest_len(self) -> usize {
        match self {
            Algorithm::Sha1 => 20,
            Algorithm::Sha256 => 32,
        }
    }
}

/// `Upload-Checksum: <algorithm> <base64 digest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checksum {
    pub algorithm: Algorithm,
    pub digest: Vec<u8>,
}

pub fn parse_checksum(value: &str) -> Result<Checksum, TusError> {
    let (name, encoded) = value
        .trim()
        .split_once(' ')
        .ok_or_else(|| TusError::BadRequest("Upload-Checksum must be '<algorithm> <base64>'".into()))?;
    let algorithm = Algorithm::ALL
        .into_iter()
        .find(|a| a.name().eq_ignore_ascii_case(name))
        .ok_or_else(|| TusError::BadRequest("Upload-Checksum: unsupported algorithm".into()))?;
    let digest = STANDARD
        .decode(encoded.trim())
        .map_err(|_| TusError::BadRequest("Upload-Checksum: digest is not valid base64".into()))?;
    if digest.len() != algorithm.digest_len() {
        return Err(TusError::BadRequest("Upload-Checksum: digest has the wrong length".into()));
    }
    Ok(Checksum { algorithm, digest })
}

/// `Upload-Concat`: `partial`, or `final;` followed by space-separated upload URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConcatRequest {
    Partial,
    /// Upload ids, in order.
    Final(Vec<String>),
}

pub fn parse_concat(value: &str) -> Result<ConcatRequest, TusError> {
    let value = value.trim();
    if value == "partial" {
        return Ok(ConcatRequest::Partial);
    }
    let urls = value
        .strip_prefix("final;")
        .ok_or_else(|| TusError::BadRequest("Upload-Concat must be 'partial' or 'final;<urls>'".into()))?;
    let ids = urls
        .split(' ')
        .filter(|u| !u.is_empty())
        .map(|u| {
            id_from_url(u).ok_or_else(|| TusError::BadRequest("Upload-Concat: not an upload URL".into()))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if ids.is_empty() {
        return Err(TusError::BadRequest("Upload-Concat: final needs at least one partial upload".into()));
    }
    Ok(ConcatRequest::Final(ids))
}

/// The upload id at the end of an absolute or relative upload URL (`…/files/<id>`).
pub fn id_from_url(url: &str) -> Option<String> {
    let path = url.split(['?', '#']).next().unwrap_or("");
    let rest = path.rsplit_once("/files/")?.1;
    is_upload_id(rest).then(|| rest.to_string())
}

/// Ids are chosen by the server: 32 lowercase hex digits. Anything else is not an upload,
/// so no client-supplied text ever becomes part of a file name.
pub fn is_upload_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_digits_only() {
        assert_eq!(parse_u64("Upload-Offset", "0").ok(), Some(0));
        assert_eq!(parse_u64("Upload-Offset", "1234").ok(), Some(1234));
        for bad in ["", "-1", "+1", " 1", "1 ", "0x10", "1e3", "99999999999999999999", "18446744073709551615"]
        {
            assert!(parse_u64("Upload-Offset", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn metadata_round_trips_and_rejects_malformed_pairs() {
        let pairs = parse_metadata("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential").unwrap();
        assert_eq!(pairs[0].value.as_deref(), Some(&b"world_domination_plan.pdf"[..]));
        assert_eq!(pairs[1], MetaPair { key: "is_confidential".into(), value: None });
        assert_eq!(parse_metadata(&format_metadata(&pairs)).unwrap(), pairs);
        for bad in ["a !!!", "a b c", " ,", "a YQ==,a YQ==", "é YQ==", "a YQ"] {
            assert!(parse_metadata(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn checksums_name_a_supported_algorithm_and_a_digest_of_its_length() {
        let c = parse_checksum("sha1 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").unwrap();
        assert_eq!(c.algorithm, Algorithm::Sha1);
        assert!(parse_checksum("md5 1B2M2Y8AsgTpgAmY7PhCfg==").is_err());
        assert!(parse_checksum("sha256 Kq5sNclPz7QV2+lfQIuc6R7oRu0=").is_err());
        assert!(parse_checksum("sha1").is_err());
    }

    #[test]
    fn idempotency_keys_are_1_to_255_visible_ascii_characters() {
        for good in ["a", "\"8e03978e-40d5-43e8-bc93-6894a57f9324\"", "IMG_0001.CR3#web", &"k".repeat(255)] {
            assert_eq!(parse_idempotency_key(good).ok().as_deref(), Some(good));
        }
        for bad in ["", "a b", "a\tb", "caf\u{e9}", "a\n", &"k".repeat(256)] {
            assert!(parse_idempotency_key(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn concat_takes_absolute_and_relative_urls() {
        let a = "0123456789abcdef0123456789abcdef";
        let b = "fedcba9876543210fedcba9876543210";
        let v = format!("final;http://h:1/files/{a} /files/{b}");
        assert_eq!(parse_concat(&v).unwrap(), ConcatRequest::Final(vec![a.into(), b.into()]));
        assert_eq!(parse_concat("partial").unwrap(), ConcatRequest::Partial);
        for bad in ["final;", "final;/files/../etc", "full", "final;/files/ABC"] {
            assert!(parse_concat(bad).is_err(), "{bad:?}");
        }
    }

    /// The fuzz target's property, run over a few thousand random inputs so CI exercises it:
    /// no input panics, and whatever parses round-trips.
    #[test]
    fn random_header_values_never_panic() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let alphabet = b"ab01 ,;/=+-_:.\x00\xff\tfinalpartsha1256YQ==files";
        for _ in 0..5000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> =
                (0..len).map(|_| alphabet[(next() % alphabet.len() as u64) as usize]).collect();
            let text = String::from_utf8_lossy(&bytes);
            fuzz_one(&text);
        }
    }

    /// What `fuzz/fuzz_targets/headers.rs` runs on each input.
    pub(crate) fn fuzz_one(text: &str) {
        crate::fuzz_headers(text.as_bytes());
    }
}
