//! `wedsync upload --backup DIR`: each camera file copied first to every backup folder,
//! verified, once; a different file of the same name there is never overwritten.

use crate::support::wedsync_at;
use crate::upload::{card_of, our_server};

#[test]
fn originals_are_copied_to_each_backup_folder_verified_once_and_never_over_another_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = our_server(dir.path());
    let files = card_of(&dir.path().join("card"), &[120_000, 90_000]);
    let (first, second) = (dir.path().join("laptop"), dir.path().join("external"));
    std::fs::create_dir_all(&first).expect("mkdir");
    std::fs::write(first.join("IMG_0000.JPG"), b"another wedding's frame").expect("write");
    let card = dir.path().join("card");
    let args: Vec<&str> = vec![
        "upload",
        card.to_str().expect("utf-8"),
        "--preset",
        "none",
        "--originals",
        "--backup",
        first.to_str().expect("utf-8"),
        "--backup",
        second.to_str().expect("utf-8"),
        "--to",
        &server.url,
        "--token",
        &server.alice,
    ];
    let (code, out) = wedsync_at(&server.home, &args);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("backed up ").count(), 4, "{out}");
    let read = |p: std::path::PathBuf| std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    assert_eq!(read(first.join("IMG_0000.JPG")), b"another wedding's frame", "never overwritten");
    assert_eq!(read(first.join("IMG_0000-2.JPG")), read(files[0].clone()));
    assert_eq!(read(first.join("IMG_0001.JPG")), read(files[1].clone()));
    assert_eq!(read(second.join("IMG_0000.JPG")), read(files[0].clone()));
    assert_eq!(read(second.join("IMG_0001.JPG")), read(files[1].clone()));

    // Again: nothing copied twice.
    let (code, out) = wedsync_at(&server.home, &args);
    assert_eq!((code, out.matches("backed up ").count()), (0, 0), "{out}");
    assert_eq!(std::fs::read_dir(&first).expect("list").count(), 3);
    // A copy deleted since is made again.
    std::fs::remove_file(second.join("IMG_0001.JPG")).expect("remove");
    let (code, out) = wedsync_at(&server.home, &args);
    assert_eq!((code, out.matches("backed up ").count()), (0, 1), "{out}");
    assert_eq!(read(second.join("IMG_0001.JPG")), read(files[1].clone()));
}
