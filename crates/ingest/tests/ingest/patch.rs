//! PATCH /files/{id}: chunks, offsets, checksums, and bodies that misbehave. Every bad
//! request leaves the other uploads as they were.

use std::io::Write;
use std::time::Duration;

use wedsync_ingest::Limits;

use crate::support::{b64, bytes, read_response, sha256_hex, write_head, Server};

fn sha1_b64(v: &[u8]) -> String {
    use sha1::Digest as _;
    b64(&sha1::Sha1::digest(v))
}

fn sha256_b64(v: &[u8]) -> String {
    use sha2::Digest as _;
    b64(&sha2::Sha256::digest(v))
}

/// A second upload, half written, that every misbehaving request must leave intact.
fn bystander(server: &Server) -> (String, Vec<u8>) {
    let data = bytes(4000, 99);
    let path = server.create(&server.bob, 4000, None);
    assert_eq!(server.patch(&server.bob, &path, 0, &data[..2000], &[]).status, 204);
    (path, data)
}

fn bystander_intact(server: &Server, (path, data): &(String, Vec<u8>)) {
    assert_eq!(server.offset(&server.bob, path), 2000);
    assert_eq!(server.patch(&server.bob, path, 2000, &data[2000..], &[]).status, 204);
    assert_eq!(&server.download(&server.bob, path).body, data);
}

#[test]
fn chunks_append_and_the_file_arrives_byte_identical() {
    let server = Server::start();
    let data = bytes(1 << 20, 7);
    let path = server.create(
        &server.alice,
        data.len() as u64,
        Some(&format!("sha256 {}", b64(sha256_hex(&data).as_bytes()))),
    );
    let mut offset = 0;
    for chunk in data.chunks(300_000) {
        let r = server.patch(&server.alice, &path, offset, chunk, &[]);
        assert_eq!(r.status, 204, "{r:?}");
        offset += chunk.len() as u64;
        assert_eq!(r.header("upload-offset"), Some(offset.to_string().as_str()));
    }
    let r = server.download(&server.alice, &path);
    assert_eq!(r.status, 200);
    assert!(r.body == data, "downloaded bytes differ");
}

#[test]
fn wrong_offsets_conflict_and_change_nothing() {
    let server = Server::start();
    let other = bystander(&server);
    let path = server.create(&server.alice, 10, None);
    assert_eq!(server.patch(&server.alice, &path, 0, b"12345", &[]).status, 204);
    for wrong in [0, 4, 6, 10] {
        let r = server.patch(&server.alice, &path, wrong, b"x", &[]);
        assert_eq!(r.status, 409, "offset {wrong}: {r:?}");
    }
    assert_eq!(server.offset(&server.alice, &path), 5);
    bystander_intact(&server, &other);
}

#[test]
fn malformed_patches_get_the_protocol_errors() {
    let server = Server::start();
    let other = bystander(&server);
    let path = server.create(&server.alice, 10, None);
    let auth = format!("Bearer {}", server.alice);
    let ok = [("Tus-Resumable", "1.0.0"), ("Authorization", auth.as_str()), ("Content-Length", "1")];
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("Content-Type", "application/offset+octet-stream")], 400), // no Upload-Offset
        (&[("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "-0")], 400),
        (&[("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "0x0")], 400),
        (&[("Upload-Offset", "0")], 415), // no Content-Type
        (&[("Content-Type", "application/octet-stream"), ("Upload-Offset", "0")], 415),
        (
            &[
                ("Content-Type", "application/offset+octet-stream"),
                ("Upload-Offset", "0"),
                ("Upload-Checksum", "md5 AAAA"),
            ],
            400,
        ),
        (
            &[
                ("Content-Type", "application/offset+octet-stream"),
                ("Upload-Offset", "0"),
                ("Upload-Checksum", "sha1"),
            ],
            400,
        ),
        (
            &[
                ("Content-Type", "application/offset+octet-stream"),
                ("Upload-Offset", "0"),
                ("Upload-Length", "9"),
            ],
            400,
        ),
    ];
    for (headers, status) in cases {
        let mut h = ok.to_vec();
        h.extend_from_slice(headers);
        let r = server.send("PATCH", &path, &h, b"x");
        assert_eq!(r.status, *status, "{headers:?}: {r:?}");
    }
    let mut h = ok.to_vec();
    h[0] = ("Tus-Resumable", "2.0.0");
    h.extend([("Content-Type", "application/offset+octet-stream"), ("Upload-Offset", "0")]);
    assert_eq!(server.send("PATCH", &path, &h, b"x").status, 412);
    assert_eq!(server.offset(&server.alice, &path), 0);
    bystander_intact(&server, &other);
}

#[test]
fn another_tokens_upload_url_is_not_found() {
    let server = Server::start();
    let other = bystander(&server);
    let r = server.patch(&server.alice, &other.0, 2000, b"stolen", &[]);
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(server.tus(&server.alice, "DELETE", &other.0, &[], b"").status, 404);
    assert_eq!(server.download(&server.alice, &other.0).status, 404);
    bystander_intact(&server, &other);
}

#[test]
fn bodies_longer_than_the_upload_are_refused_and_nothing_is_kept() {
    let server = Server::start();
    let other = bystander(&server);
    let path = server.create(&server.alice, 10, None);
    assert_eq!(server.patch(&server.alice, &path, 0, b"12345", &[]).status, 204);
    // Declared too long: refused before a byte is read.
    let r = server.patch(&server.alice, &path, 5, b"6789012", &[]);
    assert_eq!(r.status, 413, "{r:?}");
    // Sent chunked, so the length shows only while streaming: refused, and the part that
    // fitted is discarded too.
    let mut s = server.connect();
    let auth = format!("Bearer {}", server.alice);
    write_head(
        &mut s,
        "PATCH",
        &path,
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Authorization", &auth),
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", "5"),
            ("Transfer-Encoding", "chunked"),
        ],
    );
    s.write_all(b"3\r\n678\r\n5\r\n90123\r\n0\r\n\r\n").expect("write");
    let r = read_response(&mut s);
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(server.offset(&server.alice, &path), 5);
    assert_eq!(server.stored(&path), Some(5));
    assert_eq!(server.patch(&server.alice, &path, 5, b"67890", &[]).status, 204);
    assert_eq!(server.download(&server.alice, &path).body, b"1234567890");
    bystander_intact(&server, &other);
}

#[test]
fn checksums_are_verified_and_a_bad_chunk_is_discarded_with_460() {
    let server = Server::start();
    let other = bystander(&server);
    let data = bytes(3000, 3);
    let path = server.create(&server.alice, 3000, None);
    let good = format!("sha1 {}", sha1_b64(&data[..1000]));
    assert_eq!(
        server.patch(&server.alice, &path, 0, &data[..1000], &[("Upload-Checksum", &good)]).status,
        204
    );
    let bad = format!("sha256 {}", sha256_b64(b"something else"));
    let r = server.patch(&server.alice, &path, 1000, &data[1000..2000], &[("Upload-Checksum", &bad)]);
    assert_eq!(r.status, 460, "{r:?}");
    assert_eq!(server.offset(&server.alice, &path), 1000);
    assert_eq!(server.stored(&path), Some(1000), "the bad chunk is gone from storage");
    let good = format!("sha256 {}", sha256_b64(&data[1000..]));
    assert_eq!(
        server.patch(&server.alice, &path, 1000, &data[1000..], &[("Upload-Checksum", &good)]).status,
        204
    );
    assert!(server.download(&server.alice, &path).body == data);
    bystander_intact(&server, &other);
}

#[test]
fn a_declared_sha256_mismatch_quarantines_the_upload() {
    let server = Server::start();
    let data = bytes(2000, 5);
    let wrong = sha256_hex(b"not these bytes");
    let path = server.create(&server.alice, 2000, Some(&format!("sha256 {}", b64(wrong.as_bytes()))));
    let r = server.patch(&server.alice, &path, 0, &data, &[]);
    assert_eq!(r.status, 422, "{r:?}");
    assert_eq!(r.header("upload-offset"), Some("2000"));
    let head = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(head.status, 422, "a resuming client must not count it sent: {head:?}");
    assert_eq!(head.header("wedsync-upload-state"), Some("quarantined"));
    assert_eq!(server.download(&server.alice, &path).status, 422, "never published");
    if server.is_local() {
        assert!(!server.file(&path).exists());
        assert!(server.dir.path().join("quarantine").join(path.trim_start_matches("/files/")).exists());
    }
    let auth = format!("Bearer {}", server.admin);
    let list = server.send("GET", "/admin/uploads?state=quarantined", &[("Authorization", &auth)], b"");
    let text = String::from_utf8_lossy(&list.body);
    assert!(text.contains(path.trim_start_matches("/files/")) && text.contains(&wrong), "{text}");
}

#[test]
fn a_stalled_body_times_out_keeping_what_arrived() {
    let server = Server::with(Limits { body_idle_timeout: Duration::from_secs(1), ..Limits::default() });
    let other = bystander(&server);
    let data = bytes(10_000, 11);
    let path = server.create(&server.alice, 10_000, None);
    let mut s = server.connect();
    let auth = format!("Bearer {}", server.alice);
    write_head(
        &mut s,
        "PATCH",
        &path,
        &[
            ("Tus-Resumable", "1.0.0"),
            ("Authorization", &auth),
            ("Content-Type", "application/offset+octet-stream"),
            ("Upload-Offset", "0"),
            ("Content-Length", "10000"),
        ],
    );
    s.write_all(&data[..4000]).expect("write");
    s.flush().expect("flush");
    // …and nothing more: the server gives up after its idle timeout.
    let r = read_response(&mut s);
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(server.offset(&server.alice, &path), 4000);
    assert_eq!(server.patch(&server.alice, &path, 4000, &data[4000..], &[]).status, 204);
    assert!(server.download(&server.alice, &path).body == data);
    bystander_intact(&server, &other);
}

#[test]
fn a_dropped_connection_keeps_the_bytes_that_arrived() {
    let server = Server::start();
    let data = bytes(600_000, 13);
    let path = server.create(&server.alice, 600_000, None);
    {
        let mut s = server.connect();
        let auth = format!("Bearer {}", server.alice);
        write_head(
            &mut s,
            "PATCH",
            &path,
            &[
                ("Tus-Resumable", "1.0.0"),
                ("Authorization", &auth),
                ("Content-Type", "application/offset+octet-stream"),
                ("Upload-Offset", "0"),
                ("Content-Length", "600000"),
            ],
        );
        s.write_all(&data[..250_000]).expect("write");
        s.shutdown(std::net::Shutdown::Write).expect("shutdown");
        let _ = read_response(&mut s);
    }
    // The server commits what it received; wait (bounded) until HEAD shows it.
    let mut offset = 0;
    for _ in 0..100 {
        offset = server.offset(&server.alice, &path);
        if offset == 250_000 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(offset, 250_000);
    assert_eq!(server.patch(&server.alice, &path, offset, &data[250_000..], &[]).status, 204);
    assert!(server.download(&server.alice, &path).body == data);
}

#[test]
fn patch_to_a_finished_upload_with_more_bytes_is_too_large() {
    let server = Server::start();
    let path = server.create(&server.alice, 3, None);
    assert_eq!(server.patch(&server.alice, &path, 0, b"abc", &[]).status, 204);
    assert_eq!(server.patch(&server.alice, &path, 3, b"d", &[]).status, 413);
    assert_eq!(server.patch(&server.alice, &path, 3, b"", &[]).status, 204);
    assert_eq!(server.download(&server.alice, &path).body, b"abc");
}
