//! POST /files: creation, creation-with-upload, creation-defer-length, bad requests, and
//! repeated creations under one `Idempotency-Key`.

use wedsync_ingest::UploadState;

use crate::support::{b64, bytes, sha256_hex, Response, Server};

#[test]
fn creation_returns_a_server_chosen_location_and_expiry() {
    let server = Server::start();
    let path = server.create(&server.alice, 1000, Some(&format!("filename {}", b64(b"IMG_1.jpg"))));
    let id = path.trim_start_matches("/files/");
    assert!(id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    if server.is_local() {
        assert!(server.file(&path).exists());
    }
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
    assert_eq!(server.download(&server.alice, &path).body, b"abc");
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
    let tokens = server.token_admin();
    let token = server.block_on(tokens.add("carol", false)).expect("add");
    assert!(server.block_on(tokens.add("carol", false)).is_err(), "live names are unique");
    assert!(server.block_on(tokens.revoke("carol")).expect("revoke"));
    let r = server.tus(&token, "POST", "/files", &[("Upload-Length", "1")], b"");
    assert_eq!(r.status, 401, "{r:?}");
}

const OCTETS: (&str, &str) = ("Content-Type", "application/offset+octet-stream");

/// A POST from `token` under `Idempotency-Key: key`.
fn post_with_key(server: &Server, token: &str, key: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut h = vec![("Idempotency-Key", key)];
    h.extend_from_slice(headers);
    server.tus(token, "POST", "/files", &h, body)
}

fn location(r: &Response) -> String {
    r.header("location").expect("location").to_string()
}

/// The admin's statistics.
fn admin_stats(server: &Server) -> serde_json::Value {
    let auth = format!("Bearer {}", server.admin);
    let r = server.send("GET", "/admin/stats", &[("Authorization", &auth)], b"");
    assert_eq!(r.status, 200, "{r:?}");
    serde_json::from_slice(&r.body).expect("json")
}

#[test]
fn a_repeated_identical_creation_with_upload_answers_with_the_existing_upload() {
    let server = Server::start();
    let data = bytes(5000, 41);
    let meta = format!("sha256 {}", b64(sha256_hex(&data).as_bytes()));
    let h = [("Upload-Length", "5000"), ("Upload-Metadata", meta.as_str()), OCTETS];
    let first = post_with_key(&server, &server.alice, "IMG_0001.CR3#web", &h, &data);
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("wedsync-upload-state"), Some("complete"));

    // The reply was lost; the client sends the same request again.
    let again = post_with_key(&server, &server.alice, "IMG_0001.CR3#web", &h, &data);
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(location(&again), location(&first));
    assert_eq!(again.header("upload-offset"), Some("5000"));
    assert_eq!(again.header("upload-length"), Some("5000"));
    assert_eq!(again.header("tus-resumable"), Some("1.0.0"));

    let stats = server.block_on(server.ingest.store().stats()).expect("stats");
    assert_eq!((stats.complete, stats.receiving, stats.quarantined), (1, 0, 0));
    assert_eq!(stats.bytes_stored, 5000, "the bytes are stored once");
    let admin = admin_stats(&server);
    assert_eq!(admin["created_total"], 1, "a repeat is not a creation");
    assert_eq!(admin["bytes_received_total"], 5000);
    assert!(server.download(&server.alice, &location(&first)).body == data);
}

#[test]
fn a_repeated_creation_of_an_unfinished_upload_resumes_it() {
    let server = Server::start();
    let data = bytes(10_000, 42);
    let h = [("Upload-Length", "10000"), OCTETS];
    let first = post_with_key(&server, &server.alice, "k-unfinished", &h, &data[..4000]);
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("upload-offset"), Some("4000"));

    // The client did not see the reply and starts over with its first chunk.
    let again = post_with_key(&server, &server.alice, "k-unfinished", &h, &data[..4000]);
    assert_eq!(again.status, 201, "{again:?}");
    let path = location(&again);
    assert_eq!(path, location(&first));
    assert_eq!(again.header("upload-offset"), Some("4000"), "the client resumes from here");
    assert_eq!(server.offset(&server.alice, &path), 4000, "the repeated body is not appended");
    assert_eq!(server.stored(&path), Some(4000));
    assert_eq!(server.block_on(server.ingest_stats()), 1);

    // A repeat without a body says the offset too.
    let bare = post_with_key(&server, &server.alice, "k-unfinished", &[("Upload-Length", "10000")], b"");
    assert_eq!((bare.status, bare.header("upload-offset")), (201, Some("4000")), "{bare:?}");

    assert_eq!(server.patch(&server.alice, &path, 4000, &data[4000..], &[]).status, 204);
    assert!(server.download(&server.alice, &path).body == data);
}

#[test]
fn an_idempotency_key_reused_for_a_different_upload_is_refused() {
    let server = Server::start();
    let meta = format!("filename {}", b64(b"IMG_2.jpg"));
    let first = post_with_key(
        &server,
        &server.alice,
        "k",
        &[("Upload-Length", "10"), ("Upload-Metadata", &meta)],
        b"",
    );
    assert_eq!(first.status, 201, "{first:?}");
    let other = format!("filename {}", b64(b"IMG_3.jpg"));
    let cases: &[&[(&str, &str)]] = &[
        &[("Upload-Length", "11"), ("Upload-Metadata", &meta)],
        &[("Upload-Length", "10"), ("Upload-Metadata", &other)],
        &[("Upload-Length", "10")],
        &[("Upload-Length", "10"), ("Upload-Metadata", &meta), ("Upload-Concat", "partial")],
    ];
    for h in cases {
        let r = post_with_key(&server, &server.alice, "k", h, b"");
        assert_eq!(r.status, 422, "{h:?}: {r:?}");
        assert!(String::from_utf8_lossy(&r.body).contains("Idempotency-Key"), "{r:?}");
    }
    assert_eq!(server.block_on(server.ingest_stats()), 1);
}

#[test]
fn a_malformed_idempotency_key_is_a_bad_request() {
    let server = Server::start();
    let long = "k".repeat(256);
    for key in ["", "two words", "tab\there", long.as_str(), "caf\u{e9}"] {
        let r = post_with_key(&server, &server.alice, key, &[("Upload-Length", "10")], b"");
        assert_eq!(r.status, 400, "{key:?}: {r:?}");
        assert!(String::from_utf8_lossy(&r.body).contains("Idempotency-Key"), "{key:?}: {r:?}");
    }
    assert_eq!(server.block_on(server.ingest_stats()), 0);
    let longest = "k".repeat(255);
    let r = post_with_key(&server, &server.alice, &longest, &[("Upload-Length", "10")], b"");
    assert_eq!(r.status, 201, "{r:?}");
}

#[test]
fn a_quarantined_upload_frees_its_idempotency_key() {
    let server = Server::start();
    let meta = format!("sha256 {}", b64(sha256_hex(b"abc").as_bytes()));
    let h = [("Upload-Length", "3"), ("Upload-Metadata", meta.as_str()), OCTETS];
    let bad = post_with_key(&server, &server.alice, "k-q", &h, b"abd");
    assert_eq!(bad.status, 422, "{bad:?}");
    let quarantined = location(&bad);

    // The client resends good bytes under the same key: a new upload.
    let good = post_with_key(&server, &server.alice, "k-q", &h, b"abc");
    assert_eq!(good.status, 201, "{good:?}");
    assert_ne!(location(&good), quarantined);
    assert_eq!(good.header("wedsync-upload-state"), Some("complete"));
    // And the key now belongs to the good upload.
    let again = post_with_key(&server, &server.alice, "k-q", &h, b"abc");
    assert_eq!((again.status, location(&again)), (201, location(&good)), "{again:?}");
    let stats = server.block_on(server.ingest.store().stats()).expect("stats");
    assert_eq!((stats.complete, stats.quarantined), (1, 1));
}

#[test]
fn an_idempotency_key_belongs_to_its_owner() {
    let server = Server::start();
    let h = [("Upload-Length", "10")];
    let alices = post_with_key(&server, &server.alice, "IMG_1.jpg", &h, b"");
    let bobs = post_with_key(&server, &server.bob, "IMG_1.jpg", &h, b"");
    assert_eq!((alices.status, bobs.status), (201, 201), "{alices:?} {bobs:?}");
    assert_ne!(location(&alices), location(&bobs));
    let again = post_with_key(&server, &server.alice, "IMG_1.jpg", &h, b"");
    assert_eq!(location(&again), location(&alices));
    assert_eq!(server.tus(&server.bob, "HEAD", &location(&alices), &[], b"").status, 404);
    assert_eq!(server.block_on(server.ingest_stats()), 2);
}

#[test]
fn concurrent_identical_creations_make_one_upload() {
    let server = Server::start();
    let data = bytes(1000, 43);
    let h = [("Upload-Length", "2000"), OCTETS];
    let start = std::sync::Barrier::new(8);
    let replies: Vec<Response> = std::thread::scope(|s| {
        let threads: Vec<_> = (0..8)
            .map(|_| {
                s.spawn(|| {
                    start.wait();
                    post_with_key(&server, &server.alice, "k-burst", &h, &data)
                })
            })
            .collect();
        threads.into_iter().map(|t| t.join().expect("thread")).collect()
    });
    let mut locations: Vec<String> = replies
        .iter()
        .map(|r| {
            assert_eq!(r.status, 201, "{r:?}");
            location(r)
        })
        .collect();
    locations.dedup();
    assert_eq!(locations.len(), 1, "{locations:?}");
    let stats = server.block_on(server.ingest.store().stats()).expect("stats");
    assert_eq!((stats.receiving, stats.bytes_stored), (1, 1000), "one upload, its first chunk once");
    assert_eq!(server.offset(&server.alice, &locations[0]), 1000);
    let uploads =
        server.block_on(server.ingest.store().list(Some(UploadState::Receiving), 10)).expect("list");
    assert_eq!(uploads.len(), 1);
}
