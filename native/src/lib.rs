//! ringkv's native addon: CRC-32C, XXH64, bloom filters and SSTable data blocks, the byte
//! crunching of the storage engine and the ring, plus the two system calls Node lacks
//! (sync_file_range, for pacing table writes; flock, for a data directory's LOCK), exposed to
//! Node through raw N-API with no crate dependencies. The pure modules (batch, coding, crc32c,
//! xxhash64, bloom, block, writeback, file_lock) know nothing of JS and are unit-tested with
//! `cargo test`; `napi_sys` declares the C API, `napi` wraps it safely (the only unsafe code
//! besides the SSE4.2 call in crc32c and the system calls in writeback and file_lock), and
//! `exports` is the JS surface.
//! The N-API modules are left out of `cargo test` builds: their symbols only exist inside node.

pub mod batch;
pub mod block;
pub mod bloom;
pub mod coding;
pub mod crc32c;
pub mod error;
pub mod file_lock;
pub mod writeback;
pub mod xxhash64;

#[cfg(not(test))]
mod exports;
#[cfg(not(test))]
mod napi;
#[cfg(not(test))]
mod napi_sys;
