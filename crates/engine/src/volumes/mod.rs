//! Camera cards, found as the operating system mounts them. One small trait, [`Volumes`],
//! lists the mounted file systems and waits for that list to change; each OS has its own
//! implementation, chosen in [`system`]: Linux watches `/proc/self/mountinfo`; macOS lists
//! `/Volumes` and Windows the drive letters, both by polling (written, but untested: only
//! Linux builds here). Which mounts are cards, and how a card is recognised when it comes
//! back, is decided here once for all of them ([`cards`], [`CardId`]).

#[cfg(target_os = "linux")]
mod linux;
mod polled;

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sha2::{Digest, Sha256};

/// A mounted file system, as the operating system reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Volume {
    pub mount_point: PathBuf,
    /// What is mounted (`/dev/sdb1`, `/dev/loop0`), if the OS says.
    pub device: Option<String>,
    /// `vfat`, `exfat`, `fuseblk`…, if the OS says.
    pub fs_type: Option<String>,
}

/// The mounted volumes, and a way to wait until they change.
pub trait Volumes: Send {
    fn mounted(&mut self) -> io::Result<Vec<Volume>>;
    /// Waits until the set of mounts may have changed (`true`) or `timeout` passed
    /// (`false`). A spurious `true` is allowed: callers compare [`Volumes::mounted`].
    fn wait(&mut self, timeout: Duration) -> io::Result<bool>;
}

/// This system's volumes.
pub fn system() -> io::Result<Box<dyn Volumes>> {
    #[cfg(target_os = "linux")]
    return Ok(Box::new(linux::MountInfo::open()?));
    #[cfg(target_os = "macos")]
    return Ok(Box::new(polled::Polled::new(polled::macos_volumes)));
    #[cfg(windows)]
    return Ok(Box::new(polled::Polled::new(polled::drive_letters)));
    #[cfg(not(any(target_os = "linux", target_os = "macos", windows)))]
    Err(io::Error::new(io::ErrorKind::Unsupported, "no volume detection on this system"))
}

/// The places cards are mounted when nobody says otherwise.
pub fn default_card_roots() -> Vec<PathBuf> {
    if cfg!(target_os = "macos") {
        vec![PathBuf::from("/Volumes")]
    } else if cfg!(windows) {
        // Every drive letter is a mount point of its own: `cards` looks at each.
        Vec::new()
    } else {
        vec![PathBuf::from("/media"), PathBuf::from("/run/media"), PathBuf::from("/mnt")]
    }
}

/// What recognises a card when it is inserted again. The file system's serial (UUID) is
/// the strongest part, but an in-camera format changes it and some readers report their
/// own; so the label, the capacity and a digest of the `DCIM` listing (names and sizes)
/// are kept beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardId {
    pub uuid: Option<String>,
    pub label: Option<String>,
    /// Bytes, from the file system.
    pub capacity: u64,
    /// SHA-256 (hex) over every file under `DCIM`: relative path and size, sorted.
    pub dcim_digest: String,
}

impl CardId {
    /// Whether two sightings are the same card: the same serial and capacity; or, with no
    /// serial on either, the same label, capacity and `DCIM` listing.
    pub fn same_card(&self, other: &CardId) -> bool {
        match (&self.uuid, &other.uuid) {
            (Some(a), Some(b)) => a == b && self.capacity == other.capacity,
            (None, None) => {
                self.label == other.label
                    && self.capacity == other.capacity
                    && self.dcim_digest == other.dcim_digest
            }
            _ => false,
        }
    }
}

/// A mounted camera card: a volume with a `DCIM` folder.
#[derive(Debug, Clone)]
pub struct Card {
    pub volume: Volume,
    pub id: CardId,
    /// Files under `DCIM`.
    pub files: u64,
}

impl Card {
    /// A stable name for the card: its serial, else its label, capacity and listing.
    pub fn name(&self) -> String {
        match &self.id.uuid {
            Some(uuid) => uuid.clone(),
            None => format!(
                "{}-{}-{}",
                self.id.label.as_deref().unwrap_or("card"),
                self.id.capacity,
                &self.id.dcim_digest[..12.min(self.id.dcim_digest.len())]
            ),
        }
    }

    /// How many of its files are safe to format away: their bytes, as the journal last
    /// saw them at this path (same size and mtime), are verified on a server as an
    /// uploaded original. Nothing here deletes anything.
    pub fn safe_files(
        &self,
        journal: &wedsync_journal::Journal,
        policy: Safety,
    ) -> wedsync_journal::Result<u64> {
        safe_count(journal, &self.known(), policy)
    }

    /// The card as the journal remembers it: its id, where it is mounted, its files.
    pub fn known(&self) -> wedsync_journal::KnownCard {
        let mount = &self.volume.mount_point;
        // Photos and videos count; a camera's catalogues and thumbnails (`.CTG`, `.THM`)
        // are not what a photographer would lose.
        let files = dcim_files(&mount.join("DCIM"))
            .unwrap_or_default()
            .into_iter()
            .filter(|(path, _)| crate::kinds::is_camera_file(path))
            .filter_map(|(path, meta)| {
                let below = path.strip_prefix(mount).ok()?.to_path_buf();
                Some((below, meta.len(), crate::hash::mtime_ns(&meta)))
            })
            .collect();
        wedsync_journal::KnownCard {
            id: self.name(),
            label: self.id.label.clone(),
            capacity: self.id.capacity,
            mount: mount.clone(),
            mounted: true,
            files,
        }
    }
}

/// What makes a file on a card safe to format away.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Safety {
    /// Its original is verified on the server by SHA-256 (as an uploaded original).
    #[default]
    Server,
    /// A verified copy is in a backup folder (written, synced, read back, hashed).
    Backups,
    /// Both.
    Both,
}

impl std::str::FromStr for Safety {
    type Err = String;
    fn from_str(s: &str) -> Result<Safety, String> {
        match s {
            "server" => Ok(Safety::Server),
            "backups" => Ok(Safety::Backups),
            "both" => Ok(Safety::Both),
            other => Err(format!("{other:?}: safe to format means server, backups or both")),
        }
    }
}

/// How many of a card's files are safe to format under `policy`: the journal knows the
/// file, unchanged (same size and mtime), at the path it had where the card was last
/// mounted, and its bytes have the copies the policy demands. Works for a card that is out.
pub fn safe_count(
    journal: &wedsync_journal::Journal,
    card: &wedsync_journal::KnownCard,
    policy: Safety,
) -> wedsync_journal::Result<u64> {
    let mut safe = 0;
    for (below, size, mtime_ns) in &card.files {
        let Some(asset) = journal.known_source(&card.mount.join(below), *size, *mtime_ns)? else { continue };
        let on_server = || journal.original_verified(asset);
        let backed_up = || journal.backup_count(asset).map(|n| n > 0);
        let ok = match policy {
            Safety::Server => on_server()?,
            Safety::Backups => backed_up()?,
            Safety::Both => on_server()? && backed_up()?,
        };
        safe += u64::from(ok);
    }
    Ok(safe)
}

/// Whether a read failed because the file's volume went away (a card pulled mid-read, its
/// FUSE driver gone) or the file did: EIO, ENOENT, ENOTCONN, ENXIO, ENODEV, ESTALE. Such a
/// file waits for its card; it is not a failure of the file.
pub fn is_gone(error: &io::Error) -> bool {
    if error.kind() == io::ErrorKind::NotFound {
        return true;
    }
    #[cfg(unix)]
    if let Some(code) = error.raw_os_error() {
        return [libc::EIO, libc::ENOTCONN, libc::ENXIO, libc::ENODEV, libc::ESTALE].contains(&code);
    }
    false
}

/// The files under the card's DCIM folder that `accept` takes, in name order.
pub fn dcim_photos(mount: &Path, accept: fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut photos: Vec<PathBuf> = dcim_files(&mount.join("DCIM"))
        .unwrap_or_default()
        .into_iter()
        .map(|(path, _)| path)
        .filter(|p| accept(p))
        .collect();
    photos.sort();
    photos
}

/// The cards among `volumes`: mounts at or below one of `roots` (every mount when `roots`
/// is empty) that hold a `DCIM` folder. A card that cannot be read now is left out; it is
/// looked at again on the next change.
pub fn cards(volumes: &[Volume], roots: &[PathBuf]) -> Vec<Card> {
    volumes
        .iter()
        .filter(|v| roots.is_empty() || roots.iter().any(|r| v.mount_point.starts_with(r)))
        .filter(|v| v.mount_point.join("DCIM").is_dir())
        .filter_map(|v| examine(v).ok())
        .collect()
}

fn examine(volume: &Volume) -> io::Result<Card> {
    let (files, dcim_digest) = dcim_listing(&volume.mount_point.join("DCIM"))?;
    let (uuid, label) = match &volume.device {
        Some(device) => serial_and_label(device),
        None => (None, None),
    };
    let label = label.or_else(|| {
        // Where the OS names the mount after the label (macOS, udisks), that name.
        volume.mount_point.file_name().map(|n| n.to_string_lossy().into_owned())
    });
    let id = CardId { uuid, label, capacity: capacity(&volume.mount_point)?, dcim_digest };
    Ok(Card { volume: volume.clone(), id, files })
}

/// Every file under `dcim`, with its metadata.
fn dcim_files(dcim: &Path) -> io::Result<Vec<(PathBuf, std::fs::Metadata)>> {
    let mut files = Vec::new();
    let mut folders = vec![dcim.to_path_buf()];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                folders.push(entry.path());
            } else if kind.is_file() {
                files.push((entry.path(), entry.metadata()?));
            }
        }
    }
    Ok(files)
}

/// How many files lie under `dcim`, and the digest of their relative paths and sizes.
fn dcim_listing(dcim: &Path) -> io::Result<(u64, String)> {
    let mut entries: Vec<(PathBuf, u64)> = dcim_files(dcim)?
        .into_iter()
        .map(|(path, meta)| (path.strip_prefix(dcim).map(Path::to_path_buf).unwrap_or_default(), meta.len()))
        .collect();
    entries.sort();
    let mut hasher = Sha256::new();
    for (path, size) in &entries {
        hasher.update(path.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(size.to_le_bytes());
    }
    Ok((entries.len() as u64, hex::encode(hasher.finalize())))
}

/// The file system's serial and label, read from the device by `blkid` (util-linux). On
/// systems without it, or without the right to read the device, neither is known.
fn serial_and_label(device: &str) -> (Option<String>, Option<String>) {
    if !device.starts_with("/dev/") {
        return (None, None);
    }
    let Ok(out) = std::process::Command::new("blkid").args(["-o", "export", device]).output() else {
        return (None, None);
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |name: &str| {
        text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix('='))).map(str::to_string)
    };
    (field("UUID"), field("LABEL"))
}

#[cfg(unix)]
fn capacity(mount_point: &Path) -> io::Result<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(mount_point.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a NUL in the mount point"))?;
    let mut stat: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: statvfs reads a NUL-terminated path we own and writes one struct we own.
    if unsafe { libc::statvfs(path.as_ptr(), &mut stat) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(stat.f_blocks as u64 * stat.f_frsize as u64)
}

#[cfg(not(unix))]
fn capacity(_mount_point: &Path) -> io::Result<u64> {
    // Untested here: Windows would ask GetDiskFreeSpaceExW; unknown counts as 0.
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(uuid: Option<&str>, label: &str, capacity: u64, digest: &str) -> CardId {
        CardId {
            uuid: uuid.map(str::to_string),
            label: Some(label.into()),
            capacity,
            dcim_digest: digest.into(),
        }
    }

    #[test]
    fn a_card_is_known_by_its_serial_else_by_label_capacity_and_listing() {
        let card = id(Some("FB8E-6DBE"), "EOS_DIGITAL", 64 << 30, "a");
        // Frames added since: the same card.
        assert!(card.same_card(&id(Some("FB8E-6DBE"), "EOS_DIGITAL", 64 << 30, "b")));
        // Formatted in the camera: a new serial, a new card.
        assert!(!card.same_card(&id(Some("1234-ABCD"), "EOS_DIGITAL", 64 << 30, "a")));
        let anonymous = id(None, "NO NAME", 32 << 30, "x");
        assert!(anonymous.same_card(&id(None, "NO NAME", 32 << 30, "x")));
        assert!(!anonymous.same_card(&id(None, "NO NAME", 32 << 30, "y")));
    }

    #[test]
    fn only_mounts_under_the_roots_with_a_dcim_folder_are_cards() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (card, stick) = (dir.path().join("media/card"), dir.path().join("media/stick"));
        std::fs::create_dir_all(card.join("DCIM/100CANON")).expect("mkdir");
        std::fs::create_dir_all(&stick).expect("mkdir");
        std::fs::write(card.join("DCIM/100CANON/IMG_0001.CR2"), b"raw").expect("write");
        let volume = |p: &Path| Volume { mount_point: p.to_path_buf(), device: None, fs_type: None };
        let found = cards(&[volume(&card), volume(&stick)], &[dir.path().join("media")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!((found[0].files, found[0].id.label.as_deref()), (1, Some("card")));
        assert!(cards(&[volume(&card)], &[dir.path().join("elsewhere")]).is_empty());
    }
}
