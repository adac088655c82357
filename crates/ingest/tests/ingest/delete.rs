//! DELETE /files/{id}: the termination extension.

use crate::support::Server;

#[test]
fn termination_removes_the_upload_and_its_bytes() {
    let server = Server::start();
    let path = server.create(&server.alice, 10, None);
    assert_eq!(server.patch(&server.alice, &path, 0, b"abc", &[]).status, 204);
    assert_eq!(server.tus(&server.bob, "DELETE", &path, &[], b"").status, 404, "not bob's");
    assert_eq!(server.stored(&path), Some(3));
    let r = server.tus(&server.alice, "DELETE", &path, &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(server.stored(&path), None);
    assert_eq!(server.tus(&server.alice, "HEAD", &path, &[], b"").status, 404);
    assert_eq!(server.tus(&server.alice, "DELETE", &path, &[], b"").status, 404);
    assert_eq!(
        server.send("DELETE", &path, &[("Authorization", &format!("Bearer {}", server.alice))], b"").status,
        412
    );
}
