//! The bytes' bucket in S3-compatible storage (issue 19, first part), against two
//! independent servers started here: s3s-fs and moto. Opening from the `--store` URL, the
//! multipart calls a tus upload will make (its id and part list kept by the caller), and
//! clear errors for a wrong bucket, wrong credentials or a malformed URL.

use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};
use wedsync_ingest::bucket::Bucket;
use wedsync_ingest::testing::s3::{Kind, Server, KEY_ID, SECRET};

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("runtime")
}

fn server(kind: Kind) -> Server {
    Server::start(kind, "photos").unwrap_or_else(|e| panic!("cannot start {kind:?}: {e}"))
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect()
}

fn multipart_round_trip(kind: Kind) {
    let server = server(kind);
    let bucket = Bucket::open_as(&server.url("photos"), KEY_ID, SECRET).expect("open");
    runtime().block_on(async {
        bucket.check().await.unwrap_or_else(|e| panic!("{kind:?}: {e}"));
        let store = &bucket.store;
        let path = Path::from("uploads/abc123");
        // A part of the 5 MiB minimum, then the tail: as a tus upload's first PATCHes.
        let (first, tail) = (pattern(5 << 20, 1), pattern(1_234_567, 2));
        let id = store.create_multipart(&path).await.expect("create");
        let p0 = store.put_part(&path, &id, 0, PutPayload::from(first.clone())).await.expect("part 0");
        let p1 = store.put_part(&path, &id, 1, PutPayload::from(tail.clone())).await.expect("part 1");
        store.complete_multipart(&path, &id, vec![p0, p1]).await.expect("complete");
        let got = store.get(&path).await.expect("get").bytes().await.expect("bytes");
        assert_eq!(got.len(), first.len() + tail.len(), "{kind:?}");
        assert!(got[..first.len()] == first[..] && got[first.len()..] == tail[..], "{kind:?}: bytes differ");

        // An abandoned upload is aborted, and leaves no object.
        let gone = Path::from("uploads/abandoned");
        let id = store.create_multipart(&gone).await.expect("create");
        store.put_part(&gone, &id, 0, PutPayload::from(pattern(1000, 3))).await.expect("part");
        store.abort_multipart(&gone, &id).await.expect("abort");
        assert!(matches!(store.head(&gone).await, Err(object_store::Error::NotFound { .. })), "{kind:?}");
    });
}

#[test]
fn s3s_fs_keeps_a_multipart_upload_byte_for_byte() {
    multipart_round_trip(Kind::S3sFs);
}

#[test]
fn moto_keeps_a_multipart_upload_byte_for_byte() {
    multipart_round_trip(Kind::Moto);
}

#[test]
fn a_wrong_bucket_credentials_or_url_is_a_clear_error() {
    let server = server(Kind::S3sFs);
    runtime().block_on(async {
        let missing = Bucket::open_as(&server.url("no-such-bucket"), KEY_ID, SECRET).expect("open");
        let text = missing.check().await.expect_err("a missing bucket").to_string();
        assert!(text.contains("s3://no-such-bucket") && text.contains("NoSuchBucket"), "{text}");

        let wrong = Bucket::open_as(&server.url("photos"), KEY_ID, "not-the-secret").expect("open");
        let text = wrong.check().await.expect_err("a wrong secret").to_string();
        assert!(text.contains("s3://photos") && text.contains("Signature"), "{text}");
    });
    for (url, says) in [
        ("http://photos", "only s3://"),
        ("s3://photos?endpont=http://x", "unknown parameter"),
        ("s3:///?endpoint=http://x", "no bucket"),
    ] {
        let text = Bucket::open_as(url, KEY_ID, SECRET).err().expect("refused").to_string();
        assert!(text.contains(says), "{url}: {text}");
    }
}
