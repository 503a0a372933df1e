//! The error every fallible function of the addon returns. It carries one of the stable
//! `RKV_ERR_*` codes of `src/errors.ts`; `napi.rs` turns it into a thrown JS error whose `code`
//! property is that string, and `src/native/index.ts` rethrows it as a `RingkvError`. The pure
//! modules (crc, hash, bloom, block, writeback) use it without knowing about N-API, so they test
//! in plain Rust.

use std::fmt;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// The caller passed something the contract does not allow (wrong type, bad offsets, unsorted keys).
    InvalidArgument,
    /// Bytes that should be in one of our formats are not (a damaged block or filter).
    Corruption,
    /// A system call on a file failed (writeback.rs, file_lock.rs).
    Io,
    /// A bug in the addon or a failure inside N-API itself.
    Internal,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidArgument => "RKV_ERR_INVALID_ARGUMENT",
            ErrorCode::Corruption => "RKV_ERR_CORRUPTION",
            ErrorCode::Io => "RKV_ERR_IO",
            ErrorCode::Internal => "RKV_ERR_INTERNAL",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
    /// A wrong JS type (not a wrong value) is thrown as a TypeError.
    pub type_error: bool,
}

impl Error {
    pub fn invalid_argument(message: impl Into<String>) -> Error {
        Error { code: ErrorCode::InvalidArgument, message: message.into(), type_error: false }
    }
    pub fn wrong_type(message: impl Into<String>) -> Error {
        Error { code: ErrorCode::InvalidArgument, message: message.into(), type_error: true }
    }
    pub fn corruption(message: impl Into<String>) -> Error {
        Error { code: ErrorCode::Corruption, message: message.into(), type_error: false }
    }
    pub fn io(message: impl Into<String>) -> Error {
        Error { code: ErrorCode::Io, message: message.into(), type_error: false }
    }
    pub fn internal(message: impl Into<String>) -> Error {
        Error { code: ErrorCode::Internal, message: message.into(), type_error: false }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code.as_str(), self.message)
    }
}

pub type Result<T> = std::result::Result<T, Error>;
