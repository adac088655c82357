//! @tus/server (npm): creation, no concatenation, ignores checksums.

use bytes::Bytes;
use wedsync_transfer::{Destination, Error, TusClient};

use crate::support::{photo_bytes, tus_node_server};

const CHUNK: usize = 256 * 1024;

fn destination(endpoint: &str) -> Destination {
    Destination { endpoint: endpoint.to_string(), token: None, chunk_size: CHUNK as u64, parts: 1 }
}

/// The id at the end of an upload URL, which @tus/server also names the stored file by.
fn stored(dir: &std::path::Path, url: &str) -> Vec<u8> {
    let id = url.rsplit('/').next().expect("id");
    std::fs::read(dir.join(id)).expect("stored file")
}

#[tokio::test]
async fn a_file_arrives_byte_identical_after_a_resume_from_the_servers_offset() {
    let dir = tempfile::tempdir().expect("temp dir");
    let peer = tus_node_server(dir.path());
    let photo = photo_bytes(3 * CHUNK + 12_345, 7);

    let client = TusClient::connect(destination(&peer.endpoint)).await.expect("OPTIONS");
    assert!(client.capabilities().has("creation"), "{:?}", client.capabilities());
    let created = client
        .create(photo.len() as u64, &[("filename", "IMG_0001.jpg"), ("filetype", "image/jpeg")], None, None)
        .await
        .expect("POST");
    assert_eq!(created.offset, 0);
    let first = client.patch(&created.url, 0, Bytes::copy_from_slice(&photo[..CHUNK])).await.expect("PATCH");
    assert_eq!(first, CHUNK as u64);

    // A new client, as after a crash: it asks the server where to go on from.
    let resumed = TusClient::connect(destination(&peer.endpoint)).await.expect("OPTIONS again");
    let mut offset = resumed.offset(&created.url).await.expect("HEAD");
    assert_eq!(offset, CHUNK as u64);
    while (offset as usize) < photo.len() {
        let end = (offset as usize + CHUNK).min(photo.len());
        let chunk = Bytes::copy_from_slice(&photo[offset as usize..end]);
        offset = resumed.patch(&created.url, offset, chunk).await.expect("PATCH");
    }
    assert_eq!(stored(dir.path(), &created.url), photo, "the stored file differs");
}

#[tokio::test]
async fn a_stale_offset_is_refused_with_the_servers_offset_and_nothing_is_written_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let peer = tus_node_server(dir.path());
    let photo = photo_bytes(2 * CHUNK, 11);
    let client = TusClient::connect(destination(&peer.endpoint)).await.expect("OPTIONS");
    let created =
        client.create(photo.len() as u64, &[("filename", "a.jpg")], None, None).await.expect("POST");
    client.patch(&created.url, 0, Bytes::copy_from_slice(&photo[..CHUNK])).await.expect("PATCH");
    // The same chunk again, as a client that lost its acknowledgement would send it.
    let err = client.patch(&created.url, 0, Bytes::copy_from_slice(&photo[..CHUNK])).await.expect_err("409");
    match err {
        Error::OffsetMismatch { sent, server, .. } => assert_eq!((sent, server), (0, CHUNK as u64)),
        other => panic!("expected an offset mismatch, got {other}"),
    }
    client.patch(&created.url, CHUNK as u64, Bytes::copy_from_slice(&photo[CHUNK..])).await.expect("PATCH");
    assert_eq!(stored(dir.path(), &created.url), photo);
}

#[tokio::test]
async fn a_terminated_upload_is_gone() {
    let dir = tempfile::tempdir().expect("temp dir");
    let peer = tus_node_server(dir.path());
    let client = TusClient::connect(destination(&peer.endpoint)).await.expect("OPTIONS");
    let created = client.create(1000, &[("filename", "b.jpg")], None, None).await.expect("POST");
    client.terminate(&created.url).await.expect("DELETE");
    let err = client.offset(&created.url).await.expect_err("HEAD after DELETE");
    assert!(matches!(err, Error::Gone { .. }), "{err}");
    assert!(!err.is_transient());
    // Terminating twice is not an error: the upload is gone either way.
    client.terminate(&created.url).await.expect("DELETE again");
}

#[tokio::test]
async fn a_server_that_is_not_there_is_a_network_error_naming_the_url() {
    // Bind and drop a listener: the port is then very likely closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let endpoint = format!("http://127.0.0.1:{port}/files");
    let err = TusClient::connect(destination(&endpoint)).await.err().expect("refused");
    assert!(matches!(err, Error::Network { .. }) && err.is_transient(), "{err}");
    assert!(err.to_string().contains(&endpoint), "{err}");
}
