//! The engine as a service, against our reference server on 127.0.0.1 in this process:
//! pause holds every byte at a chunk boundary and resume continues from the server's
//! offset; deltas come at most ten a second and agree with snapshots; a second engine on
//! the same journal is refused with the first one named; intents change a running engine.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use wedsync_engine::{Delta, Engine, Home, Intent};

use crate::support::{files, sent, server, settings, until};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pause_holds_at_a_chunk_boundary_resume_continues_and_deltas_are_coalesced() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, token) = server(&dir.path().join("data")).await;
    let home = Home::at(dir.path().join("home")).expect("home");
    let photos = files(&dir.path().join("card"), 6, 600_000);
    // 1 MB/s: the 3.6 MB take a few seconds, long enough to pause in the middle.
    let engine = Engine::start(&home, settings(&url, &token, 1_000_000), Arc::new(|_| {})).expect("start");

    // A second engine on the same journal is refused, naming the first.
    let second = Engine::start(&home, settings(&url, &token, 1_000_000), Arc::new(|_| {}));
    let refused = second.err().expect("a second engine on one journal").to_string();
    assert!(refused.contains("in use") && refused.contains("pid"), "{refused}");

    let mut deltas = engine.subscribe();
    let seen: Arc<Mutex<Vec<(Instant, Delta)>>> = Arc::default();
    let collector = tokio::spawn({
        let seen = seen.clone();
        async move {
            while let Ok(delta) = deltas.recv().await {
                seen.lock().expect("lock").push((Instant::now(), delta));
            }
        }
    });
    engine.apply(Intent::AddPaths { paths: photos.clone(), rules: None }).expect("add");
    until("bytes on the wire", Duration::from_secs(20), || {
        engine.snapshot().map(|s| sent(&s) > 300_000).unwrap_or(false)
    })
    .await;

    engine.apply(Intent::Pause).expect("pause");
    // What was in flight reaches its chunk boundary; after that nothing moves.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let held = engine.snapshot().expect("snapshot");
    assert!(held.totals.paused, "{:?}", held.totals);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let still = engine.snapshot().expect("snapshot");
    assert_eq!(sent(&still), sent(&held), "bytes were sent while paused");
    assert!(sent(&still) < 6 * 600_000, "everything was sent before the pause took effect");

    engine.apply(Intent::Resume).expect("resume");
    until("every upload verified", Duration::from_secs(30), || {
        engine
            .snapshot()
            .map(|s| s.totals.uploads_verified == 6 && s.totals.uploads_left == 0)
            .unwrap_or(false)
    })
    .await;
    let done = engine.snapshot().expect("snapshot");
    assert_eq!(done.rows.len(), 6);
    assert!(done.rows.iter().all(|r| r.state == "done"), "{:?}", done.rows);
    // Nothing was sent twice: the server's offsets were resumed, not restarted.
    assert_eq!(sent(&done), 6 * 600_000);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let report = engine.finish().await.expect("finish");
    assert_eq!(report.transfer.sent, 6);
    assert_eq!(report.transfer.resent, 0, "{report:?}");
    collector.abort();

    // Deltas: at most about ten a second in any second, and the last row of each asset agrees
    // with the final snapshot.
    let seen = seen.lock().expect("lock");
    assert!(!seen.is_empty(), "no deltas");
    for (i, (at, _)) in seen.iter().enumerate() {
        let in_a_second =
            seen[i..].iter().take_while(|(t, _)| t.duration_since(*at) < Duration::from_secs(1)).count();
        assert!(in_a_second <= 11, "{in_a_second} deltas within one second");
    }
    for row in &done.rows {
        let last = seen.iter().rev().flat_map(|(_, d)| &d.rows).find(|r| r.asset == row.asset);
        assert_eq!(last.map(|r| r.state), Some("done"), "asset {}: {last:?}", row.asset);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_asset_is_not_sent_and_a_paused_one_waits_for_its_resume() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (url, token) = server(&dir.path().join("data")).await;
    let home = Home::at(dir.path().join("home")).expect("home");
    let photos = files(&dir.path().join("card"), 3, 400_000);
    let engine = Engine::start(&home, settings(&url, &token, 400_000), Arc::new(|_| {})).expect("start");
    engine.apply(Intent::Pause).expect("pause");
    engine.apply(Intent::AddPaths { paths: photos.clone(), rules: None }).expect("add");
    until("three rows queued", Duration::from_secs(20), || {
        engine
            .snapshot()
            .map(|s| s.rows.len() == 3 && s.rows.iter().all(|r| r.state == "queued"))
            .unwrap_or(false)
    })
    .await;
    let rows = engine.snapshot().expect("snapshot").rows;
    let by_name = |name: &str| rows.iter().find(|r| r.name == name).map(|r| r.asset).expect("row");
    let (cancelled, held) = (by_name("IMG_0000.JPG"), by_name("IMG_0001.JPG"));
    engine.apply(Intent::CancelAsset(cancelled)).expect("cancel");
    engine.apply(Intent::PauseAsset(held)).expect("pause one");
    engine.apply(Intent::SetBandwidth(None)).expect("lift the cap");
    engine.apply(Intent::Resume).expect("resume");
    until("the third sent", Duration::from_secs(20), || {
        engine.snapshot().map(|s| s.totals.uploads_verified == 1).unwrap_or(false)
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let snap = engine.snapshot().expect("snapshot");
    let state = |asset: i64| snap.rows.iter().find(|r| r.asset == asset).map(|r| r.state);
    assert_eq!(state(held), Some("paused"));
    assert_eq!(state(cancelled), Some("queued"), "a cancelled asset keeps its row, with no upload");
    assert!(snap.rows.iter().find(|r| r.asset == cancelled).is_some_and(|r| r.uploads.is_empty()));
    engine.apply(Intent::ResumeAsset(held)).expect("resume one");
    let report = engine.finish().await.expect("finish");
    assert_eq!(report.transfer.sent, 2, "{report:?}");
    assert_eq!(report.remaining.uploads_queued + report.remaining.uploads_sending, 0);
}
