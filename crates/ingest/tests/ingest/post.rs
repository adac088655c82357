//! POST /files: creation, creation-with-upload, creation-defer-length, and bad requests.

use crate::support::{b64, bytes, Server};

#[test]
fn creation_returns_a_server_chosen_location_and_expiry() {
    let server = Server::start();
    let path = server.create(&server.alice, 1000, Some(&format!("filename {}", b64(b"IMG_1.jpg"))));
    let id = path.trim_start_matches("/files/");
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    assert!(server.file(&path).exists());
    let r = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(r.header("upload-offset"), Some("0"));
    assert_eq!(r.header("upload-length"), Some("1000"));
    assert!(httpdate::parse_http_date(r.header("upload-expires").expect("expires")).is_ok());
}

#[test]
fn path_like_metadata_never_reaches_the_file_system() {
    let server = Server::start();
    let evil = format!("filename {},dir {}", b64(b"../../../../tmp/evil"), b64(b"/etc/passwd"));
    let path = server.create(&server.alice, 3, Some(&evil));
    let r = server.patch(&server.alice, &path, 0, b"abc", &[]);
    assert_eq!(r.status, 204, "{r:?}");
    assert!(!server.dir.path().join("../../../../tmp/evil").exists());
    assert_eq!(std::fs::read(server.file(&path)).expect("stored"), b"abc");
    // The metadata comes back as it was sent.
    let r = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(r.header("upload-metadata"), Some(evil.as_str()));
}

#[test]
fn creation_with_upload_stores_the_first_chunk() {
    let server = Server::start();
    let data = bytes(5000, 1);
    let r = server.tus(
        &server.alice,
        "POST",
        "/files",
        &[("Upload-Length", "8000"), ("Content-Type", "application/offset+octet-stream")],
        &data,
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("upload-offset"), Some("5000"));
    let path = r.header("location").expect("location").to_string();
    assert_eq!(server.offset(&server.alice, &path), 5000);
    // A body with the wrong content type is refused before anything is created.
    let r = server.tus(
        &server.alice,
        "POST",
        "/files",
        &[("Upload-Length", "8000"), ("Content-Type", "text/plain")],
        &data,
    );
    assert_eq!(r.status, 415, "{r:?}");
}

#[test]
fn deferred_length_is_declared_by_a_later_patch() {
    let server = Server::start();
    let r = server.tus(&server.alice, "POST", "/files", &[("Upload-Defer-Length", "1")], b"");
    assert_eq!(r.status, 201, "{r:?}");
    let path = r.header("location").expect("location").to_string();
    let head = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(head.header("upload-defer-length"), Some("1"));
    assert!(head.header("upload-length").is_none());
    assert_eq!(server.patch(&server.alice, &path, 0, b"hello ", &[]).status, 204);
    let r = server.patch(&server.alice, &path, 6, b"world", &[("Upload-Length", "11")]);
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(server.download(&server.alice, &path).body, b"hello world");
    // Once set, the length cannot change.
    let r = server.patch(&server.alice, &path, 11, b"", &[("Upload-Length", "12")]);
    assert_eq!(r.status, 400, "{r:?}");
}

#[test]
fn an_empty_upload_is_complete_at_once() {
    let server = Server::start();
    let path = server.create(&server.alice, 0, None);
    assert_eq!(server.download(&server.alice, &path).status, 200);
}

#[test]
fn malformed_or_missing_headers_get_the_protocol_errors() {
    let server = Server::start();
    let auth = format!("Bearer {}", server.alice);
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("Upload-Length", "10")], 412), // no Tus-Resumable
        (&[("Tus-Resumable", "0.2.2"), ("Upload-Length", "10")], 412), // wrong version
        (&[("Tus-Resumable", "1.0.0")], 400), // no length
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "-1")], 400), // negative
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "ten")], 400), // not a number
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "10"), ("Upload-Defer-Length", "1")], 400),
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Defer-Length", "2")], 400),
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "10"), ("Upload-Metadata", "a b c")], 400),
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "10"), ("Upload-Metadata", "k %%%")], 400),
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "10"), ("Upload-Concat", "whole")], 400),
        (&[("Tus-Resumable", "1.0.0"), ("Upload-Length", "99999999999999")], 413), // over the limit
    ];
    for (headers, status) in cases {
        let mut h: Vec<(&str, &str)> = vec![("Authorization", &auth), ("Content-Length", "0")];
        h.extend_from_slice(headers);
        let r = server.send("POST", "/files", &h, b"");
        assert_eq!(r.status, *status, "{headers:?}: {r:?}");
        if *status == 412 {
            assert_eq!(r.header("tus-version"), Some("1.0.0"));
        }
    }
    // No token, a wrong token, a malformed Authorization header: 401.
    for auth in [None, Some("Bearer wst_nope"), Some("Basic abc"), Some("Bearer")] {
        let mut h = vec![("Tus-Resumable", "1.0.0"), ("Upload-Length", "10"), ("Content-Length", "0")];
        if let Some(a) = auth {
            h.push(("Authorization", a));
        }
        let r = server.send("POST", "/files", &h, b"");
        assert_eq!(r.status, 401, "{auth:?}: {r:?}");
        assert_eq!(r.header("www-authenticate"), Some("Bearer"));
    }
    let stats = server.block_on(server.ingest_stats());
    assert_eq!(stats, 0, "no bad request created an upload");
}

#[test]
fn a_revoked_token_stops_working() {
    let server = Server::start();
    let tokens = wedsync_ingest::SqliteTokens::new(wedsync_ingest::open_db(server.dir.path()).expect("db"));
    let token = tokens.add("carol", false).expect("add");
    assert!(tokens.add("carol", false).is_err(), "live names are unique");
    assert!(tokens.revoke("carol").expect("revoke"));
    let r = server.tus(&token, "POST", "/files", &[("Upload-Length", "1")], b"");
    assert_eq!(r.status, 401, "{r:?}");
}
