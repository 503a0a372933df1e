//! The JS surface of the addon: one small handler per function of `NativeAddon`
//! (src/native/index.ts). Each reads and checks its arguments through `napi::Args`, calls the pure
//! module, and builds the result through `napi::Env`. Names here must match the TS interface.

use crate::batch::Batch;
use crate::error::Result;
use crate::napi::{range_of, Args, Env, Handler, Value};
use crate::{block, bloom, crc32c, file_lock, writeback, xxhash64};
use std::ffi::CStr;

pub const EXPORTS: &[(&CStr, Handler)] = &[
    (c"crc32c", crc32c_js),
    (c"crc32cSoftware", crc32c_software_js),
    (c"crc32cHardware", crc32c_hardware_js),
    (c"crc32cBatch", crc32c_batch_js),
    (c"xxhash64", xxhash64_js),
    (c"xxhash64Batch", xxhash64_batch_js),
    (c"bloomBuild", bloom_build_js),
    (c"bloomMayContain", bloom_may_contain_js),
    (c"bloomMayContainBatch", bloom_may_contain_batch_js),
    (c"blockBuild", block_build_js),
    (c"blockGet", block_get_js),
    (c"blockFind", block_find_js),
    (c"blockSeek", block_seek_js),
    (c"blockDecode", block_decode_js),
    (c"blockEntries", block_entries_js),
    (c"syncFileRange", sync_file_range_js),
    (c"lockFile", lock_file_js),
];

fn crc32c_js(env: &Env, args: &Args) -> Result<Value> {
    let data = args.bytes(0, "data")?;
    let crc = args.integer(1, "crc", 0, u32::MAX)?;
    env.uint32(crc32c::crc32c(crc, data))
}

fn crc32c_software_js(env: &Env, args: &Args) -> Result<Value> {
    let data = args.bytes(0, "data")?;
    let crc = args.integer(1, "crc", 0, u32::MAX)?;
    env.uint32(crc32c::crc32c_software(crc, data))
}

fn crc32c_hardware_js(env: &Env, _args: &Args) -> Result<Value> {
    env.boolean(crc32c::hardware_available())
}

fn crc32c_batch_js(env: &Env, args: &Args) -> Result<Value> {
    let batch = Batch::new(args.bytes(0, "data")?, args.u32s(1, "offsets")?, "crc32cBatch")?;
    let out: Vec<u32> = batch.iter().map(|item| crc32c::crc32c(0, item)).collect();
    env.uint32_array(&out)
}

fn xxhash64_js(env: &Env, args: &Args) -> Result<Value> {
    let data = args.bytes(0, "data")?;
    let seed = args.bigint_u64(1, "seed")?;
    env.bigint_u64(xxhash64::xxhash64(data, seed))
}

fn xxhash64_batch_js(env: &Env, args: &Args) -> Result<Value> {
    let batch = Batch::new(args.bytes(0, "data")?, args.u32s(1, "offsets")?, "xxhash64Batch")?;
    let seed = args.bigint_u64(2, "seed")?;
    let out: Vec<u64> = batch.iter().map(|item| xxhash64::xxhash64(item, seed)).collect();
    env.biguint64_array(&out)
}

fn bloom_build_js(env: &Env, args: &Args) -> Result<Value> {
    let keys = Batch::new(args.bytes(0, "keys")?, args.u32s(1, "offsets")?, "bloomBuild")?;
    let bits_per_key = args.integer(2, "bitsPerKey", bloom::BITS_PER_KEY_MIN, bloom::BITS_PER_KEY_MAX)?;
    env.buffer(&bloom::build(&keys, bits_per_key)?)
}

fn bloom_may_contain_js(env: &Env, args: &Args) -> Result<Value> {
    let filter = bloom::Filter::parse(args.bytes(0, "filter")?)?;
    let key = args.bytes(1, "key")?;
    env.boolean(filter.may_contain(key))
}

fn bloom_may_contain_batch_js(env: &Env, args: &Args) -> Result<Value> {
    let filter = bloom::Filter::parse(args.bytes(0, "filter")?)?;
    let keys = Batch::new(args.bytes(1, "keys")?, args.u32s(2, "offsets")?, "bloomMayContainBatch")?;
    let out: Vec<u8> = keys.iter().map(|k| filter.may_contain(k) as u8).collect();
    env.uint8_array(&out)
}

fn block_build_js(env: &Env, args: &Args) -> Result<Value> {
    let keys = Batch::new(args.bytes(0, "keys")?, args.u32s(1, "keyOffsets")?, "blockBuild keys")?;
    let values = Batch::new(args.bytes(2, "values")?, args.u32s(3, "valueOffsets")?, "blockBuild values")?;
    let interval = args.integer(4, "restartInterval", block::RESTART_INTERVAL_MIN, block::RESTART_INTERVAL_MAX)?;
    env.buffer(&block::build(&keys, &values, interval)?)
}

fn block_get_js(env: &Env, args: &Args) -> Result<Value> {
    let blk = block::Block::parse(args.bytes(0, "block")?)?;
    let key = args.bytes(1, "key")?;
    match blk.get(key)? {
        Some(value) => env.buffer(value),
        None => env.null(),
    }
}

fn block_find_js(env: &Env, args: &Args) -> Result<Value> {
    let blk = block::Block::parse(args.bytes(0, "block")?)?;
    let key = args.bytes(1, "key")?;
    match blk.find(key)? {
        None => env.double(-1.0),
        Some((start, end)) => {
            let len = end - start;
            if start > u32::MAX as usize || len > block::FIND_VALUE_BYTES_MAX {
                return Err(crate::error::Error::invalid_argument(format!("blockFind: value at {start} of {len} bytes is beyond what one answer can encode")));
            }
            // start + len * 2^32 < 2^53: an exact f64 integer.
            env.double(start as f64 + len as f64 * 4_294_967_296.0)
        }
    }
}

fn block_seek_js(env: &Env, args: &Args) -> Result<Value> {
    let blk = block::Block::parse(args.bytes(0, "block")?)?;
    let target = args.bytes(1, "target")?;
    let index = blk.seek(target, true)?.index;
    // A block of under 4 GiB holds under 2^32 entries (each takes at least 3 bytes).
    env.uint32(u32::try_from(index).unwrap_or(u32::MAX))
}

fn block_decode_js(env: &Env, args: &Args) -> Result<Value> {
    let d = block::Block::parse(args.bytes(0, "block")?)?.decode()?;
    let out = env.object()?;
    env.set_property(out, c"keys", env.buffer(&d.keys)?)?;
    env.set_property(out, c"keyOffsets", env.uint32_array(&d.key_offsets)?)?;
    env.set_property(out, c"values", env.buffer(&d.values)?)?;
    env.set_property(out, c"valueOffsets", env.uint32_array(&d.value_offsets)?)?;
    Ok(out)
}

fn block_entries_js(env: &Env, args: &Args) -> Result<Value> {
    let bytes = args.bytes(0, "block")?;
    let blk = block::Block::parse(bytes)?;
    let keys = args.bytes_mut(1, "keys", &[range_of(bytes)])?;
    let keys_range = range_of(keys);
    let offsets = args.u32s_mut(2, "offsets", &[range_of(bytes), keys_range])?;
    match blk.entries_into(keys, offsets)? {
        block::EntriesInto::Fits(count) => env.double(count as f64),
        block::EntriesInto::TooShort(needed) => env.double(-(needed as f64)),
    }
}

fn sync_file_range_js(env: &Env, args: &Args) -> Result<Value> {
    let fd = args.integer(0, "fd", 0, i32::MAX as u32)?;
    let offset = args.safe_integer(1, "offset")?;
    let bytes = args.safe_integer(2, "bytes")?;
    env.boolean(writeback::write_range(fd as i32, offset, bytes)?)
}

fn lock_file_js(env: &Env, args: &Args) -> Result<Value> {
    let fd = args.integer(0, "fd", 0, i32::MAX as u32)?;
    env.boolean(file_lock::try_lock_exclusive(fd as i32)?)
}
