//! The cluster store's own guarantees, beyond the protocol suite it also passes
//! (`WEDSYNC_INGEST_STORE=cluster cargo test --test ingest`): uploads larger than a part go
//! to the bucket in parts and their SHA-256 is known without reading them back; two
//! instances on one database and bucket serve the same uploads; a PATCH on one instance
//! takes an upload over from a stalled PATCH on the other; a writer whose lease was taken
//! commits nothing; expiry leaves no multipart upload behind; any instance's /metrics
//! counts every instance's work. PostgreSQL, s3s-fs and moto
//! are started here on 127.0.0.1 and stopped after.

#[allow(dead_code)]
#[path = "ingest/support.rs"]
mod support;

use std::io::Write;
use std::time::{Duration, Instant};

use object_store::ObjectStore;
use support::{b64, bytes, id_of, read_response, sha256_hex, Backend, Server};
use wedsync_ingest::bucket::Bucket;
use wedsync_ingest::testing::s3::{Kind, KEY_ID, SECRET};
use wedsync_ingest::Limits;

const MIB: usize = 1 << 20;

fn eventually(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < Duration::from_secs(10), "never: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn in_flight(server: &Server) -> bool {
    server.admin_json("/admin/stats")["transfers_in_flight"] == 1
}

/// The objects in the server's bucket under `prefix`, with their sizes.
fn objects(server: &Server, prefix: &str) -> Vec<(String, u64)> {
    let (s3, name) = server.backend.s3().expect("cluster store");
    let bucket = Bucket::open_as(&s3.url(&name), KEY_ID, SECRET).expect("bucket");
    let listed = server.block_on(async {
        use futures_util::TryStreamExt;
        let prefix = object_store::path::Path::from(prefix);
        bucket.store.list(Some(&prefix)).try_collect::<Vec<_>>().await
    });
    listed.expect("list").into_iter().map(|m| (m.location.to_string(), m.size)).collect()
}

#[test]
fn an_upload_larger_than_a_part_arrives_whole_and_its_sha256_is_never_read_back() {
    let server = Server::on(Backend::cluster_on(Kind::S3sFs), Limits::default());
    let data = bytes(20 * MIB + 12_345, 3);
    let sha = sha256_hex(&data);
    let path =
        server.create(&server.alice, data.len() as u64, Some(&format!("sha256 {}", b64(sha.as_bytes()))));
    // Chunks that end inside, and exactly on, the 8 MiB part boundaries.
    let mut offset = 0;
    for end in [5 * MIB, 8 * MIB, 17 * MIB, data.len()] {
        let r = server.patch(&server.alice, &path, offset as u64, &data[offset..end], &[]);
        assert_eq!(r.status, 204, "{r:?}");
        offset = end;
    }
    let head = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(head.header("wedsync-upload-state"), Some("complete"), "{head:?}");
    let got = server.download(&server.alice, &path);
    assert!(got.status == 200 && got.body == data, "the download differs");
    let digest = server.block_on(server.ingest.store().sha256(id_of(&path))).expect("sha256");
    assert_eq!(digest.map(hex::encode), Some(sha), "kept from the parts as they were written");
    let objects = objects(&server, &format!("uploads/{}", id_of(&path)));
    assert_eq!(objects.len(), 1, "one object: {objects:?}");
    assert_eq!(objects[0].1, data.len() as u64);
    let rows = server.sql("SELECT COUNT(*) FROM upload_tail", &[]);
    assert_eq!(rows[0].get::<_, i64>(0), 0, "the tail is gone once the object is made");
}

#[test]
fn two_instances_serve_the_same_uploads() {
    let a = Server::on(Backend::cluster_on(Kind::S3sFs), Limits::default());
    let b = a.beside();
    let data = bytes(10 * MIB, 4);
    let path = a.create(&a.alice, data.len() as u64, None);
    assert_eq!(a.patch(&a.alice, &path, 0, &data[..3 * MIB], &[]).status, 204);
    assert_eq!(b.offset(&b.alice, &path), 3 * MIB as u64);
    assert_eq!(b.patch(&b.alice, &path, 3 * MIB as u64, &data[3 * MIB..], &[]).status, 204);
    assert!(a.download(&a.alice, &path).body == data, "a serves what b finished");
    assert_eq!(b.tus(&b.bob, "HEAD", &path, &[], b"").status, 404, "still alice's alone");
}

#[test]
fn a_patch_on_one_instance_takes_an_upload_over_from_a_stalled_patch_on_the_other() {
    let a = Server::on(Backend::cluster_on(Kind::S3sFs), Limits::default());
    let b = a.beside();
    let data = bytes(4 * MIB, 5);
    let path = a.create(&a.alice, data.len() as u64, None);
    // A client sends half its body to a, then its network goes quiet.
    let mut stalled = a.open_patch(&a.alice, &path, 0, data.len(), &data[..2 * MIB]);
    eventually("a receives the body", || in_flight(&a));
    std::thread::sleep(Duration::from_millis(300));
    // It resumes on b, as after a reconnect to another instance: b asks a to let go; a,
    // its body quiet for a second, keeps what arrived, and b's PATCH at the old offset is
    // told the offset moved.
    let asked = Instant::now();
    // (A first chunk small enough to sit in the socket's buffers: b answers before it
    // reads the body.)
    let r = b.patch(&b.alice, &path, 0, &data[..64 * 1024], &[]);
    assert_eq!(r.status, 409, "the offset moved under it: {r:?}");
    assert!(asked.elapsed() < Duration::from_secs(2), "a let go when asked, in {:?}", asked.elapsed());
    let kept = b.offset(&b.alice, &path);
    assert!(kept > 0 && kept <= 2 * MIB as u64, "a kept what arrived: {kept}");
    assert_eq!(read_response(&mut stalled).status, 423, "the stalled request is told it lost the upload");
    assert_eq!(b.patch(&b.alice, &path, kept, &data[kept as usize..], &[]).status, 204);
    assert!(b.download(&b.alice, &path).body == data);
}

#[test]
fn a_writer_whose_lease_was_taken_commits_nothing() {
    let server = Server::on(Backend::cluster_on(Kind::S3sFs), Limits::default());
    let data = bytes(3 * MIB, 6);
    let path = server.create(&server.alice, data.len() as u64, None);
    let mut writer = server.open_patch(&server.alice, &path, 0, data.len(), &data[..MIB + 1000]);
    eventually("the writer holds the lease", || in_flight(&server));
    // Another instance takes the lease over, as after this one was paused past its end.
    let id = id_of(&path);
    let stolen = server.sql(
        "UPDATE uploads SET fence = fence + 1, holder = 'another', lease_until = now() + interval '1 minute'
         WHERE id = $1 RETURNING fence",
        &[&id],
    );
    assert_eq!(stolen.len(), 1);
    let _ = writer.write_all(&data[MIB + 1000..]);
    assert_eq!(read_response(&mut writer).status, 423, "its writes are refused");
    assert_eq!(server.offset(&server.alice, &path), 0, "nothing it sent is acknowledged");
    // The other instance gives the upload up; the client sends it all again.
    server.sql("UPDATE uploads SET holder = NULL, lease_until = NULL WHERE id = $1 RETURNING id", &[&id]);
    assert_eq!(server.patch(&server.alice, &path, 0, &data, &[]).status, 204);
    assert!(server.download(&server.alice, &path).body == data, "nothing of the refused writer's is in it");
}

#[test]
fn expiry_aborts_the_multipart_upload_and_removes_the_state() {
    let limits = Limits {
        expire_after: Duration::from_secs(1),
        sweep_every: Duration::from_secs(3600),
        ..Limits::default()
    };
    let server = Server::on(Backend::cluster_on(Kind::Moto), limits);
    let (s3, bucket) = server.backend.s3().expect("cluster store");
    let data = bytes(9 * MIB, 7);
    let path = server.create(&server.alice, 20 * MIB as u64, None);
    assert_eq!(server.patch(&server.alice, &path, 0, &data, &[]).status, 204);
    assert_eq!(s3.open_multipart_uploads(&bucket), Ok(1), "its first part is in the bucket");
    // The second instance starts now: a server sweeps once as it starts, which must not
    // be the sweep that finds the upload expired.
    let other = server.beside();
    std::thread::sleep(Duration::from_millis(2100));
    // Two instances sweep at once: one removes it.
    let (one, two) = std::thread::scope(|s| {
        let one = s.spawn(|| server.block_on(server.ingest.sweep()).expect("sweep"));
        let two = s.spawn(|| other.block_on(other.ingest.sweep()).expect("sweep"));
        (one.join().expect("sweep"), two.join().expect("sweep"))
    });
    assert_eq!(one + two, 1, "one instance removed it");
    assert_eq!(s3.open_multipart_uploads(&bucket), Ok(0), "no multipart upload is left behind");
    assert_eq!(server.tus(&server.alice, "HEAD", &path, &[], b"").status, 404);
    let rows =
        server.sql("SELECT (SELECT COUNT(*) FROM upload_tail) + (SELECT COUNT(*) FROM upload_parts)", &[]);
    assert_eq!(rows[0].get::<_, i64>(0), 0, "its tail and parts are gone");
}

#[test]
fn a_check_an_instance_left_unfinished_is_taken_up_by_another() {
    let a = Server::on(Backend::cluster_on(Kind::S3sFs), Limits::default());
    let data = bytes(3 * MIB, 8);
    let sha = sha256_hex(&data);
    let path = a.create(&a.alice, data.len() as u64, Some(&format!("sha256 {}", b64(sha.as_bytes()))));
    assert_eq!(a.patch(&a.alice, &path, 0, &data, &[]).status, 204);
    let id = id_of(&path);
    // As if the instance checking it had died mid-check with its lease still live: it is
    // left to its checker.
    let left =
        "UPDATE uploads SET state = 'verifying', holder = 'dead', lease_until = now() + interval '1 minute'
                WHERE id = $1 RETURNING id";
    assert_eq!(a.sql(left, &[&id]).len(), 1);
    let b = a.beside();
    let state = |s: &Server| {
        s.tus(&s.alice, "HEAD", &path, &[], b"").header("wedsync-upload-state").map(str::to_string)
    };
    let r = b.tus(&b.alice, "HEAD", &path, &[], b"");
    assert_eq!(r.status, 423, "a live checker's upload is left to it, and the client asks again: {r:?}");
    // Its lease ends: the next instance asked checks it.
    a.sql("UPDATE uploads SET lease_until = now() - interval '1 second' WHERE id = $1 RETURNING id", &[&id]);
    assert_eq!(state(&b).as_deref(), Some("complete"));
    assert!(b.download(&b.alice, &path).body == data);
}

#[test]
fn any_instance_reports_the_whole_clusters_counters() {
    let a = Server::on(Backend::cluster_on(Kind::S3sFs), Limits::default());
    let b = a.beside();
    let data = bytes(MIB, 9);
    for server in [&a, &a, &b] {
        let path = server.create(&server.alice, data.len() as u64, None);
        assert_eq!(server.patch(&server.alice, &path, 0, &data, &[]).status, 204);
    }
    // An instance's counters reach the others when it answers for them (and every few
    // seconds): a's, then b's with a's added.
    assert_eq!(a.admin_json("/admin/stats")["created_total"], 2);
    assert_eq!(b.admin_json("/admin/stats")["created_total"], 3);
    for server in [&a, &b] {
        assert_eq!(server.metric("wedsync_ingest_uploads_created_total"), 3);
        assert_eq!(server.metric("wedsync_ingest_uploads_completed_total"), 3);
        assert_eq!(server.metric("wedsync_ingest_bytes_received_total"), 3 * MIB as u64);
        assert_eq!(server.metric("wedsync_ingest_instances"), 2);
        assert_eq!(server.metric("wedsync_ingest_requests_total{method=\"PATCH\",status=\"204\"}"), 3);
        assert_eq!(server.metric("wedsync_ingest_patch_seconds_count"), 3);
    }
    // A body streaming to a shows in b's figures once a has reported it.
    let path = a.create(&a.alice, 2 * MIB as u64, None);
    let _stalled = a.open_patch(&a.alice, &path, 0, 2 * MIB, &data[..MIB / 2]);
    eventually("a receives the body", || in_flight(&a));
    let start = Instant::now();
    while b.admin_json("/admin/stats")["transfers_in_flight"] != 1 {
        assert!(start.elapsed() < Duration::from_secs(15), "b never counts a's transfer");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn while_the_database_is_down_a_head_says_ask_again_and_nothing_is_lost() {
    let backend = Backend::cluster_on(Kind::S3sFs);
    let Backend::Cluster { _shared: shared, .. } = &backend else { unreachable!("a cluster backend") };
    let shared = shared.clone();
    let server = Server::on(backend, Limits::default());
    let data = bytes(2 * MIB, 10);
    let path = server.create(&server.alice, data.len() as u64, None);
    assert_eq!(server.patch(&server.alice, &path, 0, &data[..MIB], &[]).status, 204);
    shared.pg.stop().expect("stop PostgreSQL");
    // Past the token cache, so that the token's lookup meets the outage too.
    std::thread::sleep(Duration::from_secs(6));
    // A HEAD answers 423, which tus clients take as "ask again" (any other error makes
    // tus-js-client start the file over); a PATCH, 503; both say when to ask again.
    let head = server.tus(&server.alice, "HEAD", &path, &[], b"");
    assert_eq!(head.status, 423, "{head:?}");
    assert_eq!(head.header("retry-after"), Some("2"));
    // (A body small enough to sit in the socket's buffers: the server answers before it
    // reads one, and a larger one met a closed connection.)
    let patch = server.patch(&server.alice, &path, MIB as u64, &data[MIB..MIB + 1024], &[]);
    assert_eq!(patch.status, 503, "{patch:?}");
    assert!(String::from_utf8_lossy(&patch.body).contains("state database is unavailable"), "{patch:?}");
    assert_eq!(patch.header("retry-after"), Some("2"));
    shared.pg.resume().expect("start PostgreSQL");
    eventually("the upload answers again", || {
        server.tus(&server.alice, "HEAD", &path, &[], b"").status == 200
    });
    assert_eq!(server.offset(&server.alice, &path), MIB as u64, "what was acknowledged is kept");
    assert_eq!(server.patch(&server.alice, &path, MIB as u64, &data[MIB..], &[]).status, 204);
    assert!(server.download(&server.alice, &path).body == data);
}

/// A partial upload of `data`, sent whole; its path.
fn partial_of(server: &Server, data: &[u8]) -> String {
    let path = server.create_partial(&server.alice, data.len());
    assert_eq!(server.patch(&server.alice, &path, 0, data, &[]).status, 204);
    path
}

/// A final upload of `parts`, declaring the SHA-256 of `whole`; its state once joined.
fn final_of(server: &Server, parts: &[String], whole: &[u8]) -> (String, Option<String>) {
    let concat = format!("final;{}", parts.join(" "));
    let metadata = format!("sha256 {}", b64(sha256_hex(whole).as_bytes()));
    let r = server.tus(
        &server.alice,
        "POST",
        "/files",
        &[("Upload-Concat", &concat), ("Upload-Metadata", &metadata)],
        b"",
    );
    assert_eq!(r.status, 201, "{r:?}");
    let path = r.header("location").expect("Location").to_string();
    let head = server.tus(&server.alice, "HEAD", &path, &[], b"");
    (path, head.header("wedsync-upload-state").map(str::to_string))
}

#[test]
fn a_final_upload_of_large_parts_is_joined_inside_the_bucket_and_of_small_ones_streamed() {
    for kind in [Kind::S3sFs, Kind::Moto] {
        let server = Server::on(Backend::cluster_on(kind), Limits::default());
        // Parts of 6 MiB, 9 MiB (over a part of the partial's own) and 1 MiB: every part
        // but the last is over S3's 5 MiB minimum, so each is copied inside the bucket.
        let datas = [bytes(6 * MIB, 11), bytes(9 * MIB + 7, 12), bytes(MIB, 13)];
        let parts: Vec<String> = datas.iter().map(|d| partial_of(&server, d)).collect();
        let whole = datas.concat();
        let (path, state) = final_of(&server, &parts, &whole);
        assert_eq!(state.as_deref(), Some("complete"), "{kind:?}: its SHA-256, read back, matches");
        assert!(server.download(&server.alice, &path).body == whole, "{kind:?}: the download differs");
        assert_eq!(server.metric("wedsync_ingest_concat_bytes_copied_total"), whole.len() as u64, "{kind:?}");
        assert_eq!(server.metric("wedsync_ingest_concat_bytes_streamed_total"), 0, "{kind:?}");
        // A first part under 5 MiB cannot be a part of its own: streamed.
        let small = [bytes(MIB, 14), bytes(6 * MIB, 15)];
        let parts: Vec<String> = small.iter().map(|d| partial_of(&server, d)).collect();
        let whole_small = small.concat();
        let (path, state) = final_of(&server, &parts, &whole_small);
        assert_eq!(state.as_deref(), Some("complete"), "{kind:?}");
        assert!(server.download(&server.alice, &path).body == whole_small, "{kind:?}: the download differs");
        assert_eq!(server.metric("wedsync_ingest_concat_bytes_streamed_total"), whole_small.len() as u64);
        if kind == Kind::Moto {
            let (s3, name) = server.backend.s3().expect("cluster store");
            assert_eq!(s3.open_multipart_uploads(&name), Ok(0), "no multipart upload left open");
        }
    }
}
