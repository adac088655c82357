//! HEAD /files/{id}: offsets, ownership, expiry.

use std::time::Duration;

use wedsync_ingest::Limits;

use crate::support::Server;

#[test]
fn head_reports_the_acknowledged_offset() {
    let server = Server::start();
    let path = server.create(&server.alice, 10, None);
    assert_eq!(server.patch(&server.alice, &path, 0, b"1234", &[]).status, 204);
    let r = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("upload-offset"), Some("4"));
    assert_eq!(r.header("upload-length"), Some("10"));
    assert_eq!(r.header("cache-control"), Some("no-store"));
    assert_eq!(r.header("tus-resumable"), Some("1.0.0"));
}

#[test]
fn another_tokens_upload_and_made_up_ids_are_not_found() {
    let server = Server::start();
    let path = server.create(&server.alice, 10, None);
    for (token, p) in [
        (&server.bob, path.as_str()),
        (&server.admin, path.as_str()),
        (&server.alice, "/files/0123456789abcdef0123456789abcdef"),
        (&server.alice, "/files/..%2F..%2Fetc%2Fpasswd"),
        (&server.alice, "/files/ABC"),
    ] {
        let r = server.tus(token, "HEAD", p, &[], b"");
        assert_eq!(r.status, 404, "{p}: {r:?}");
    }
    let r = server.send("HEAD", &path, &[("Tus-Resumable", "1.0.0")], b"");
    assert_eq!(r.status, 401);
}

#[test]
fn expired_uploads_are_gone_then_swept() {
    let server = Server::with(Limits { expire_after: Duration::from_secs(1), ..Limits::default() });
    let path = server.create(&server.alice, 10, None);
    let done = server.create(&server.alice, 2, None);
    assert_eq!(server.patch(&server.alice, &done, 0, b"ok", &[]).status, 204);
    // Expiry has a resolution of one second.
    std::thread::sleep(Duration::from_millis(2200));
    assert_eq!(server.tus(&server.alice, "HEAD", &path, &[], b"").status, 410);
    assert_eq!(server.patch(&server.alice, &path, 0, b"1", &[]).status, 410);
    let swept = server.block_on(server.ingest.sweep()).expect("sweep");
    assert_eq!(swept, 1, "only the unfinished upload expires");
    assert_eq!(server.tus(&server.alice, "HEAD", &path, &[], b"").status, 404);
    assert_eq!(server.stored(&path), None);
    assert_eq!(server.download(&server.alice, &done).body, b"ok");
}

/// Regression (issue 14, defect 7): HEAD on a quarantined upload answered 200 with every
/// byte in, so a client resuming it counted a photo the server would never publish as sent.
#[test]
fn a_quarantined_upload_answers_head_with_422_not_complete() {
    let server = Server::start();
    let meta = format!("sha256 {}", crate::support::b64(crate::support::sha256_hex(b"abc").as_bytes()));
    let path = server.create(&server.alice, 3, Some(&meta));
    assert_eq!(server.patch(&server.alice, &path, 0, b"abd", &[]).status, 422);
    let r = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(r.status, 422, "{r:?}");
}
