//! An exclusive advisory lock on a whole open file, without waiting: flock(LOCK_EX | LOCK_NB).
//! A data directory's LOCK file is held this way for as long as a node runs (LevelDB's LOCK, which
//! uses fcntl; src/storage/dir-lock.ts says why). flock rather than fcntl because a flock lock
//! belongs to the open file description: a second open of the same file conflicts even inside
//! one process, and closing some other descriptor of the file does not drop it, as it would an
//! fcntl lock. The kernel drops it when the last descriptor of that open closes, including at
//! process death, so a killed node leaves no stale lock behind.

use crate::error::{Error, Result};

#[cfg(unix)]
mod sys {
    // <sys/file.h>; the same on Linux, the BSDs and macOS.
    pub const LOCK_EX: i32 = 2;
    pub const LOCK_NB: i32 = 4;
    extern "C" {
        pub fn flock(fd: i32, operation: i32) -> i32;
    }
}

/// Ok(true) when `fd` now holds the lock (or already did), Ok(false) when another open of the
/// file holds it. An interrupted call is retried; any other failure is an Io error naming errno.
pub fn try_lock_exclusive(fd: i32) -> Result<bool> {
    if fd < 0 {
        return Err(Error::invalid_argument(format!("try_lock_exclusive: fd {fd} out of range")));
    }
    #[cfg(unix)]
    loop {
        // SAFETY: a plain system call on integers; it touches no memory of ours.
        let rc = unsafe { sys::flock(fd, sys::LOCK_EX | sys::LOCK_NB) };
        if rc == 0 {
            return Ok(true);
        }
        let err = std::io::Error::last_os_error();
        match err.kind() {
            std::io::ErrorKind::Interrupted => continue,
            std::io::ErrorKind::WouldBlock => return Ok(false),
            _ => return Err(Error::io(format!("flock(fd {fd}, LOCK_EX | LOCK_NB): {err}"))),
        }
    }
    #[cfg(not(unix))]
    Err(Error::io("file locks need flock(2), which this platform lacks"))
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    fn temp_path(name: &str) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("ringkv-file-lock-{}-{name}", std::process::id()))
    }

    #[test]
    fn a_second_open_of_a_locked_file_is_refused_until_the_first_closes() {
        let path = temp_path("twice");
        let first = std::fs::File::create(&path).unwrap();
        assert_eq!(try_lock_exclusive(first.as_raw_fd()), Ok(true));
        // Locking again through the same open is a no-op, not a conflict.
        assert_eq!(try_lock_exclusive(first.as_raw_fd()), Ok(true));
        let second = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        assert_eq!(try_lock_exclusive(second.as_raw_fd()), Ok(false));
        drop(first);
        assert_eq!(try_lock_exclusive(second.as_raw_fd()), Ok(true));
        std::fs::remove_file(path).unwrap();
    }

    #[test]
    fn a_descriptor_that_is_not_open_is_an_io_error() {
        // Far above any descriptor this test process opens (other tests run in parallel threads
        // and could reuse a number just closed).
        let err = try_lock_exclusive(1 << 20).unwrap_err();
        assert_eq!(err.code, crate::error::ErrorCode::Io);
        assert!(err.message.contains("flock"), "{}", err.message);
    }

    #[test]
    fn a_negative_descriptor_is_refused() {
        assert_eq!(try_lock_exclusive(-1).unwrap_err().code, crate::error::ErrorCode::InvalidArgument);
    }
}
