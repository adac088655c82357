//! The concatenation extension (POST with Upload-Concat), including unfinished partials.

use wedsync_ingest::UploadState;

use crate::support::{b64, bytes, sha256_hex, Server};

#[test]
fn a_final_upload_is_its_parts_in_order_even_when_made_before_they_finish() {
    let server = Server::start();
    let data = bytes(30_000, 31);
    let parts: Vec<String> = (0..3).map(|_| server.create_partial(&server.alice, 10_000)).collect();
    assert_eq!(server.patch(&server.alice, &parts[1], 0, &data[10_000..20_000], &[]).status, 204);
    let head = server.tus(&server.alice, "HEAD", &parts[1], &[], b"");
    assert_eq!(head.header("upload-concat"), Some("partial"));

    // The final upload, with absolute and relative URLs, before parts 0 and 2 are done.
    let concat = format!("final;{} {} {}", server.url(&parts[0]), parts[1], server.url(&parts[2]));
    let meta = format!("sha256 {}", b64(sha256_hex(&data).as_bytes()));
    let r = server.tus(
        &server.alice,
        "POST",
        "/files",
        &[("Upload-Concat", &concat), ("Upload-Metadata", &meta)],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let fin = r.header("location").expect("location").to_string();
    let head = server.tus(&server.alice, "HEAD", &fin, &[], b"");
    assert!(head.header("upload-offset").is_none(), "no offset before concatenation: {head:?}");
    assert!(head.header("upload-concat").is_some_and(|v| v.starts_with("final;")));
    assert_eq!(head.header("upload-length"), Some("30000"));
    assert_eq!(server.patch(&server.alice, &fin, 0, b"x", &[]).status, 403, "PATCH to a final upload");
    assert_eq!(server.download(&server.alice, &fin).status, 409);

    assert_eq!(server.patch(&server.alice, &parts[2], 0, &data[20_000..], &[]).status, 204);
    assert_eq!(server.patch(&server.alice, &parts[0], 0, &data[..10_000], &[]).status, 204);
    let head = server.tus(&server.alice, "HEAD", &fin, &[], b"");
    assert_eq!(head.header("upload-offset"), Some("30000"));
    assert_eq!(head.header("wedsync-upload-state"), Some("complete"));
    assert!(server.download(&server.alice, &fin).body == data);
}

#[test]
fn a_final_upload_of_finished_parts_is_complete_at_once() {
    let server = Server::start();
    let a = server.create_partial(&server.alice, 3);
    let b = server.create_partial(&server.alice, 3);
    assert_eq!(server.patch(&server.alice, &a, 0, b"abc", &[]).status, 204);
    assert_eq!(server.patch(&server.alice, &b, 0, b"def", &[]).status, 204);
    let r = server.tus(&server.alice, "POST", "/files", &[("Upload-Concat", &format!("final;{a} {b}"))], b"");
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.header("upload-offset"), Some("6"));
    let fin = r.header("location").expect("location").to_string();
    assert_eq!(server.download(&server.alice, &fin).body, b"abcdef");
}

#[test]
fn final_uploads_name_only_the_creators_partial_uploads() {
    let server = Server::start();
    let mine = server.create_partial(&server.alice, 3);
    let bobs = server.create_partial(&server.bob, 3);
    let plain = server.create(&server.alice, 3, None);
    for (concat, extra, status) in [
        (format!("final;{mine} {bobs}"), None, 400),
        (format!("final;{mine} {plain}"), None, 400),
        (format!("final;{mine}"), Some(("Upload-Length", "3")), 400),
        ("final;/files/../../etc/passwd".to_string(), None, 400),
    ] {
        let mut h = vec![("Upload-Concat", concat.as_str())];
        h.extend(extra);
        let r = server.tus(&server.alice, "POST", "/files", &h, b"");
        assert_eq!(r.status, status, "{concat}: {r:?}");
    }
}

#[test]
fn a_repeated_identical_final_answers_with_the_existing_upload() {
    let server = Server::start();
    let a = server.create_partial(&server.alice, 3);
    let b = server.create_partial(&server.alice, 3);
    assert_eq!(server.patch(&server.alice, &a, 0, b"abc", &[]).status, 204);
    assert_eq!(server.patch(&server.alice, &b, 0, b"def", &[]).status, 204);
    let concat = format!("final;{a} {b}");
    let h = [("Upload-Concat", concat.as_str()), ("Idempotency-Key", "final-IMG_7.jpg")];
    let first = server.tus(&server.alice, "POST", "/files", &h, b"");
    assert_eq!(first.status, 201, "{first:?}");
    assert_eq!(first.header("upload-offset"), Some("6"));

    // The reply was lost (a gateway's 502, a stall): the client sends the final again.
    let again = server.tus(&server.alice, "POST", "/files", &h, b"");
    assert_eq!(again.status, 201, "{again:?}");
    assert_eq!(again.header("location"), first.header("location"));
    assert_eq!(again.header("upload-offset"), Some("6"));
    assert_eq!(again.header("upload-length"), Some("6"));

    let complete =
        server.block_on(server.ingest.store().list(Some(UploadState::Complete), 100)).expect("list");
    assert_eq!(complete.iter().filter(|u| u.is_final()).count(), 1, "one copy of the photo: {complete:?}");
    assert_eq!(complete.len(), 1, "the parts' bytes are in the final alone: {complete:?}");
    let fin = again.header("location").expect("location");
    assert_eq!(server.download(&server.alice, fin).body, b"abcdef");
}

/// Regression (issue 14, found by 50 kills mid-parts): a client killed while the server
/// joined its parts cancelled the joining with its request, leaving a final that never had
/// an offset; the client's rerun then failed on it for ever. Such a final is joined when it
/// is asked about again.
#[test]
fn a_final_left_unjoined_by_an_interruption_is_joined_when_asked_about() {
    let server = Server::start();
    let a = server.create_partial(&server.alice, 3);
    let b = server.create_partial(&server.alice, 3);
    assert_eq!(server.patch(&server.alice, &a, 0, b"abc", &[]).status, 204);
    assert_eq!(server.patch(&server.alice, &b, 0, b"def", &[]).status, 204);
    // The final as an interrupted request leaves it: recorded, never joined.
    let id = |path: &str| path.trim_start_matches("/files/").to_string();
    let store = server.ingest.store();
    let owner = server.block_on(store.get(&id(&a))).expect("part").owner;
    let new = wedsync_ingest::NewUpload {
        owner,
        key: None,
        length: Some(6),
        metadata: String::new(),
        concat: wedsync_ingest::ConcatRole::Final(vec![id(&a), id(&b)]),
    };
    let fin = match server.block_on(store.create(new)).expect("create") {
        wedsync_ingest::Created::New(upload) => format!("/files/{}", upload.id),
        wedsync_ingest::Created::Existing(_) => panic!("no key, no existing upload"),
    };
    let head = server.tus(&server.alice, "HEAD", &fin, &[], b"");
    assert_eq!(head.status, 200, "{head:?}");
    assert_eq!(head.header("upload-offset"), Some("6"), "{head:?}");
    assert_eq!(head.header("wedsync-upload-state"), Some("complete"));
    assert_eq!(server.download(&server.alice, &fin).body, b"abcdef");
}
