//! `send`: one file to the end, against @tus/server, fresh, resumed and re-created.

use bytes::Bytes;
use wedsync_transfer::{send, Destination, Job, Record, TusClient};

use crate::support::{photo_bytes, tus_node_server};

const CHUNK: usize = 256 * 1024;

/// What the journal would have been told, in order.
#[derive(Default)]
struct Log(Vec<String>);

impl Record for Log {
    fn created(&mut self, url: &str) -> Result<(), String> {
        self.0.push(format!("created {url}"));
        Ok(())
    }
    fn acknowledged(&mut self, offset: u64) -> Result<(), String> {
        self.0.push(format!("at {offset}"));
        Ok(())
    }
    fn restarted(&mut self, reason: &str) -> Result<(), String> {
        self.0.push(format!("restarted: {reason}"));
        Ok(())
    }
    fn parts_planned(&mut self, parts: &[(u64, u64)]) -> Result<(), String> {
        self.0.push(format!("parts {parts:?}"));
        Ok(())
    }
    fn part_created(&mut self, part: usize, url: &str) -> Result<(), String> {
        self.0.push(format!("part {part} created {url}"));
        Ok(())
    }
    fn part_acknowledged(&mut self, part: usize, offset: u64) -> Result<(), String> {
        self.0.push(format!("part {part} at {offset}"));
        Ok(())
    }
}

fn stored(dir: &std::path::Path, url: &str) -> Vec<u8> {
    std::fs::read(dir.join(url.rsplit('/').next().expect("id"))).expect("stored file")
}

struct Setup {
    _store: tempfile::TempDir,
    _peer: crate::support::Peer,
    store: std::path::PathBuf,
    client: TusClient,
    photo: Vec<u8>,
    job: Job,
    _files: tempfile::TempDir,
}

async fn setup(len: usize) -> Setup {
    let store = tempfile::tempdir().expect("store dir");
    let peer = tus_node_server(store.path());
    let destination =
        Destination { endpoint: peer.endpoint.clone(), token: None, chunk_size: CHUNK as u64, parts: 4 };
    let client = TusClient::connect(destination).await.expect("OPTIONS");
    let files = tempfile::tempdir().expect("files dir");
    let photo = photo_bytes(len, len as u64);
    let path = files.path().join("IMG_0001.jpg");
    std::fs::write(&path, &photo).expect("write photo");
    let job = Job {
        path,
        length: len as u64,
        metadata: vec![("filename".into(), "IMG_0001.jpg".into()), ("filetype".into(), "image/jpeg".into())],
        url: None,
        parts: Vec::new(),
    };
    let store_path = store.path().to_path_buf();
    Setup { _store: store, _peer: peer, store: store_path, client, photo, job, _files: files }
}

#[tokio::test]
async fn a_new_file_is_created_sent_in_chunks_and_every_offset_recorded() {
    let s = setup(4 * CHUNK + 999).await;
    let mut log = Log::default();
    let sent = send(&s.client, &s.job, &mut log).await.expect("send");
    assert_eq!(sent.resent, 0);
    assert_eq!(stored(&s.store, &sent.url), s.photo);
    let mut expected = vec![format!("created {}", sent.url)];
    // @tus/server does not take data with the creation request: every chunk is a PATCH.
    for k in 1..=4 {
        expected.push(format!("at {}", k * CHUNK));
    }
    expected.push(format!("at {}", s.photo.len()));
    assert_eq!(log.0, expected);
}

#[tokio::test]
async fn a_known_url_resumes_from_the_servers_offset_without_creating_anything() {
    let mut s = setup(3 * CHUNK).await;
    let created =
        s.client.create(s.photo.len() as u64, &[("filename", "IMG_0001.jpg")], None).await.expect("POST");
    s.client.patch(&created.url, 0, Bytes::copy_from_slice(&s.photo[..CHUNK])).await.expect("PATCH");
    s.job.url = Some(created.url.clone());
    let mut log = Log::default();
    let sent = send(&s.client, &s.job, &mut log).await.expect("send");
    assert_eq!(sent.url, created.url);
    // The server's offset first (the record may be behind it after a crash), then each PATCH.
    assert_eq!(log.0, vec![format!("at {CHUNK}"), format!("at {}", 2 * CHUNK), format!("at {}", 3 * CHUNK)]);
    assert_eq!(stored(&s.store, &sent.url), s.photo);
}

#[tokio::test]
async fn a_vanished_upload_is_created_again_and_completed() {
    let mut s = setup(CHUNK + 10).await;
    let created =
        s.client.create(s.photo.len() as u64, &[("filename", "IMG_0001.jpg")], None).await.expect("POST");
    s.client.terminate(&created.url).await.expect("DELETE");
    s.job.url = Some(created.url.clone());
    let mut log = Log::default();
    let sent = send(&s.client, &s.job, &mut log).await.expect("send");
    assert_ne!(sent.url, created.url, "a new upload");
    assert!(log.0[0].starts_with("restarted: ") && log.0[0].contains(&created.url), "{:?}", log.0);
    assert_eq!(log.0[1], format!("created {}", sent.url));
    assert_eq!(stored(&s.store, &sent.url), s.photo);
}

#[tokio::test]
async fn a_missing_source_file_is_an_error_that_names_it() {
    let mut s = setup(100).await;
    s.job.path = s.job.path.with_file_name("gone.jpg");
    let err = send(&s.client, &s.job, &mut Log::default()).await.expect_err("no file");
    assert!(err.to_string().contains("gone.jpg"), "{err}");
}
