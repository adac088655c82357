//! Linux: `/proc/self/mountinfo` lists the mounts, and poll() on it reports POLLPRI when
//! the mount table changes (proc(5)), so a card is seen the moment it is mounted, with no
//! polling interval. Reading the file from its start re-arms the notification.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::time::Duration;

use super::{Volume, Volumes};

pub(super) struct MountInfo {
    file: File,
}

impl MountInfo {
    pub(super) fn open() -> io::Result<MountInfo> {
        Ok(MountInfo { file: File::open("/proc/self/mountinfo")? })
    }
}

impl Volumes for MountInfo {
    fn mounted(&mut self) -> io::Result<Vec<Volume>> {
        self.file.seek(SeekFrom::Start(0))?;
        let mut text = String::new();
        self.file.read_to_string(&mut text)?;
        Ok(text.lines().filter_map(parse_line).collect())
    }

    fn wait(&mut self, timeout: Duration) -> io::Result<bool> {
        let mut fd = libc::pollfd { fd: self.file.as_raw_fd(), events: libc::POLLPRI, revents: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: poll reads and writes one pollfd we own, for a descriptor we hold open.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        if n < 0 {
            let error = io::Error::last_os_error();
            // A signal: say "maybe changed", the caller looks.
            return if error.kind() == io::ErrorKind::Interrupted { Ok(true) } else { Err(error) };
        }
        Ok(n > 0 && fd.revents & (libc::POLLPRI | libc::POLLERR) != 0)
    }
}

/// One line of mountinfo: `36 35 98:0 /mnt1 /mnt/card rw,noatime master:1 - exfat /dev/sdb1
/// rw`. The mount point is field 5; the file system type and source follow the `-`.
fn parse_line(line: &str) -> Option<Volume> {
    let fields: Vec<&str> = line.split(' ').collect();
    let mount_point = unescape(fields.get(4)?);
    let dash = fields.iter().position(|f| *f == "-")?;
    let fs_type = fields.get(dash + 1).map(|s| s.to_string());
    let device = fields.get(dash + 2).map(|s| unescape(s).to_string_lossy().into_owned());
    Some(Volume { mount_point, device, fs_type })
}

/// Undoes mountinfo's octal escapes (`\040` for a space, `\011`, `\012`, `\134`).
fn unescape(field: &str) -> PathBuf {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|c| (b'0'..=b'7').contains(c)));
        match octal {
            Some(d) => {
                out.push(d.iter().fold(0u8, |n, c| n.wrapping_mul(8).wrapping_add(c - b'0')));
                i += 4;
            }
            None => {
                out.push(bytes[i]);
                i += 1;
            }
        }
    }
    PathBuf::from(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(&out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_lines_give_the_mount_point_type_and_device() {
        let line = "42 27 7:0 / /media/EOS\\040DIGITAL rw,nosuid master:1 - fuseblk /dev/loop0 rw,user_id=0";
        let v = parse_line(line).expect("parsed");
        assert_eq!(v.mount_point, PathBuf::from("/media/EOS DIGITAL"));
        assert_eq!((v.fs_type.as_deref(), v.device.as_deref()), (Some("fuseblk"), Some("/dev/loop0")));
        assert!(parse_line("garbage").is_none());
    }

    #[test]
    fn the_root_file_system_is_among_the_mounts() {
        let mut mounts = MountInfo::open().expect("mountinfo");
        let all = mounts.mounted().expect("read");
        assert!(all.iter().any(|v| v.mount_point == std::path::Path::new("/")), "{all:?}");
        // Nothing changes in 10 ms here: no event.
        assert!(!mounts.wait(Duration::from_millis(10)).expect("poll"));
    }
}
