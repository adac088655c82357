//! OPTIONS, through the router alone (no socket): it advertises exactly what is implemented.

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

use crate::support::Server;

#[test]
fn options_advertises_version_extensions_limits_and_checksums() {
    let server = Server::start();
    let response = server.block_on(async {
        let app = wedsync_ingest::router(server.ingest.clone());
        let request =
            Request::builder().method("OPTIONS").uri("/files").body(Body::empty()).expect("request");
        app.oneshot(request).await.expect("response")
    });
    assert_eq!(response.status(), 204);
    let h = response.headers();
    assert_eq!(h["Tus-Version"], "1.0.0");
    assert_eq!(h["Tus-Resumable"], "1.0.0");
    let extensions: Vec<&str> = h["Tus-Extension"].to_str().expect("ascii").split(',').collect();
    assert_eq!(
        extensions,
        [
            "creation",
            "creation-with-upload",
            "expiration",
            "checksum",
            "idempotency-key",
            "creation-defer-length",
            "termination",
            "concatenation",
            "concatenation-unfinished"
        ]
    );
    assert_eq!(h["Tus-Checksum-Algorithm"], "sha1,sha256");
    assert_eq!(h["Tus-Max-Size"], wedsync_ingest::Limits::default().max_size.to_string().as_str());
}

#[test]
fn options_needs_neither_a_token_nor_tus_resumable() {
    let server = Server::start();
    let r = server.send("OPTIONS", "/files", &[], b"");
    assert_eq!(r.status, 204, "{r:?}");
    assert!(r.header("tus-extension").is_some());
}
