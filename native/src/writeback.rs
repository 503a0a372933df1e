//! Writes a file's dirty pages in one byte range to the disk and waits for them: Linux's
//! sync_file_range(WRITE | WAIT_AFTER). It syncs no metadata and flushes no device cache, so
//! it makes nothing durable (the table's final fsync does that); what it buys is pacing. A table
//! written whole and then fsync'ed hands the disk tens of MiB at once, and a WAL fdatasync issued
//! behind that burst waits for all of it (an ad-hoc probe here: WAL fdatasync p999 26-31 ms, max
//! 52-55 ms while 64 MiB tables were written; 6-8 ms and 16 ms with this call after every MiB,
//! 16-18 ms and 27-40 ms with an fdatasync after every MiB); `npm run bench:table-io` measures it
//! against a real WAL. RocksDB's bytes_per_sync is the same idea. Elsewhere than Linux the call
//! is not there and `write_range` reports Ok(false).

use crate::error::{Error, Result};

#[cfg(target_os = "linux")]
mod sys {
    // <linux/fs.h>; the same on every Linux architecture.
    pub const SYNC_FILE_RANGE_WRITE: u32 = 2;
    pub const SYNC_FILE_RANGE_WAIT_AFTER: u32 = 4;
    extern "C" {
        // glibc and musl both export it; off64_t is i64 on every 64-bit and LFS target.
        pub fn sync_file_range(fd: i32, offset: i64, nbytes: i64, flags: u32) -> i32;
    }
}

/// Writes out `bytes` bytes of `fd` from `offset` and waits; Ok(false) where unsupported.
/// An interrupted call is retried; any other failure is an Io error naming the errno.
pub fn write_range(fd: i32, offset: u64, bytes: u64) -> Result<bool> {
    if fd < 0 || offset > i64::MAX as u64 || bytes > i64::MAX as u64 - offset {
        return Err(Error::invalid_argument(format!("write_range: fd {fd}, offset {offset}, bytes {bytes} out of range")));
    }
    #[cfg(target_os = "linux")]
    loop {
        // SAFETY: a plain system call on integers; it touches no memory of ours.
        let rc = unsafe { sys::sync_file_range(fd, offset as i64, bytes as i64, sys::SYNC_FILE_RANGE_WRITE | sys::SYNC_FILE_RANGE_WAIT_AFTER) };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        if err.kind() != std::io::ErrorKind::Interrupted {
            return Err(Error::io(format!("sync_file_range(fd {fd}, offset {offset}, bytes {bytes}): {err}")));
        }
    }
    #[cfg(not(target_os = "linux"))]
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::fd::AsRawFd;

    fn temp_file(name: &str) -> (std::path::PathBuf, std::fs::File) {
        let path = std::env::temp_dir().join(format!("ringkv-writeback-{}-{name}", std::process::id()));
        let file = std::fs::File::create(&path).unwrap();
        (path, file)
    }

    #[test]
    fn writes_a_range_of_a_file_it_was_given() {
        let (path, mut file) = temp_file("ok");
        file.write_all(&vec![7u8; 3 * 4096]).unwrap();
        assert_eq!(write_range(file.as_raw_fd(), 0, 2 * 4096), Ok(cfg!(target_os = "linux")));
        // A range past the end of the file is not an error (nothing to write).
        assert_eq!(write_range(file.as_raw_fd(), 1 << 30, 4096), Ok(cfg!(target_os = "linux")));
        std::fs::remove_file(path).unwrap();
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn a_closed_descriptor_is_an_io_error() {
        let (path, file) = temp_file("closed");
        let fd = file.as_raw_fd();
        drop(file);
        let err = write_range(fd, 0, 4096).unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::Io);
        assert!(err.message.contains("sync_file_range"), "{}", err.message);
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn out_of_range_arguments_are_refused() {
        assert_eq!(write_range(-1, 0, 1).unwrap_err().code, crate::error::ErrorCode::InvalidArgument);
        assert_eq!(write_range(0, u64::MAX, 1).unwrap_err().code, crate::error::ErrorCode::InvalidArgument);
        assert_eq!(write_range(0, 1, i64::MAX as u64).unwrap_err().code, crate::error::ErrorCode::InvalidArgument);
    }
}
