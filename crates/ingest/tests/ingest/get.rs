//! GET /files/{id}: the owner downloads a completed upload.

use crate::support::{bytes, Server};

#[test]
fn only_the_owner_downloads_and_only_when_complete() {
    let server = Server::start();
    let data = bytes(70_000, 21);
    let path = server.create(&server.alice, 70_000, None);
    assert_eq!(server.patch(&server.alice, &path, 0, &data[..10], &[]).status, 204);
    assert_eq!(server.download(&server.alice, &path).status, 409, "not complete yet");
    assert_eq!(server.patch(&server.alice, &path, 10, &data[10..], &[]).status, 204);
    let r = server.download(&server.alice, &path);
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-length"), Some("70000"));
    assert!(r.body == data);
    assert_eq!(server.download(&server.bob, &path).status, 404);
    assert_eq!(server.send("GET", &path, &[], b"").status, 401);
}
