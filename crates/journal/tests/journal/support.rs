use wedsync_journal::{AssetId, Journal, NewAsset, NewUpload};

pub fn asset(n: u32) -> NewAsset {
    NewAsset {
        path: format!("/media/card/DCIM/IMG_{n:04}.CR2").into(),
        size: 25_000_000 + u64::from(n),
        mtime_ns: 1_700_000_000_000_000_000 + i64::from(n),
        sha256: format!("{n:064x}"),
        capture_time: Some("2026-06-13T15:04:05".into()),
        camera: Some("Canon EOS R5".into()),
        ..NewAsset::default()
    }
}

pub fn upload_of(asset: AssetId, preset: &str, n: u32) -> NewUpload {
    NewUpload {
        asset,
        preset: Some(preset.into()),
        destination: "https://ingest.example/files".into(),
        sha256: format!("{:064x}", u64::from(n) << 32 | 0xbeef),
        size: 500_000 + u64::from(n),
        priority: 0,
        name: None,
    }
}

/// Every invariant a journal must keep, whatever instant it was killed at.
pub fn check_consistent(journal_path: &std::path::Path) {
    let journal = Journal::open(journal_path).expect("reopen after the kill");
    let problems = journal.consistency_problems().expect("consistency queries");
    assert!(problems.is_empty(), "inconsistent journal: {problems:?}");
}
