//! `send`: one file to the end, against @tus/server, fresh, resumed and re-created.

use bytes::Bytes;
use wedsync_transfer::{send, Destination, Job, Record, TusClient};

use crate::support::{photo_bytes, tus_node_server};

const CHUNK: usize = 256 * 1024;

/// What the journal would have been told, in order; `on_ack` runs at every acknowledged
/// offset (a test's way to change the file while it is sent).
#[derive(Default)]
struct Log(Vec<String>, Option<Box<dyn FnMut(u64) + Send>>);

impl Record for Log {
    fn created(&mut self, url: &str) -> Result<(), String> {
        self.0.push(format!("created {url}"));
        Ok(())
    }
    fn acknowledged(&mut self, offset: u64) -> Result<(), String> {
        self.0.push(format!("at {offset}"));
        if let Some(hook) = self.1.as_mut() {
            hook(offset);
        }
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
        sha256: None,
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
    // The bytes the server has are read again to check the whole file before it completes.
    s.job.sha256 = Some(hex_sha256(&s.photo));
    let created = s
        .client
        .create(s.photo.len() as u64, &[("filename", "IMG_0001.jpg")], None, None)
        .await
        .expect("POST");
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
    let created = s
        .client
        .create(s.photo.len() as u64, &[("filename", "IMG_0001.jpg")], None, None)
        .await
        .expect("POST");
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

/// Regression (issue 14, defect 8): a tethered frame still being written was sent with
/// bytes other than those hashed, and its old asset was stranded.
#[tokio::test]
async fn a_file_that_changes_while_it_is_sent_is_never_completed_on_the_server() {
    let mut s = setup(3 * CHUNK + 5).await;
    s.job.sha256 = Some(hex_sha256(&s.photo));
    let path = s.job.path.clone();
    // After the first chunk is on the server, the camera rewrites the frame's last bytes.
    let hook = move |offset: u64| {
        if offset == CHUNK as u64 {
            let mut bytes = std::fs::read(&path).expect("read");
            let end = bytes.len() - 1;
            bytes[end] ^= 0xff;
            std::fs::write(&path, bytes).expect("rewrite");
        }
    };
    let mut log = Log(Vec::new(), Some(Box::new(hook)));
    let err = send(&s.client, &s.job, &mut log).await.expect_err("changed under the upload");
    assert!(err.to_string().contains("changed since"), "{err}");
    let created = log.0[0].strip_prefix("created ").expect("created first").to_string();
    let offset = s.client.offset(&created).await.expect("HEAD");
    assert!(offset < s.photo.len() as u64, "the upload was completed with other bytes: {offset}");
    assert!(!log.0.contains(&format!("at {}", s.photo.len())), "{:?}", log.0);
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}
