//! SSTable data blocks: sorted key/value entries, keys prefix-compressed, with restart points
//! for binary search (LevelDB's table/block_builder and table/block).
//!
//! Byte layout of a block (docs/sstable-format.md describes the same thing for the table layer):
//!
//! ```text
//!   entry*                    in strictly increasing key order (bytewise, shorter prefix first)
//!     varint32 shared         bytes this key shares with the previous key; 0 at a restart point
//!     varint32 unshared       length of key_delta
//!     varint32 value_len
//!     key_delta[unshared]     the key's bytes after the shared prefix
//!     value[value_len]
//!   restart[num_restarts]     u32 little-endian: byte offset of each restart entry
//!   num_restarts              u32 little-endian
//! ```
//!
//! Varints are LEB128 (7 bits a byte, low group first, at most 5 bytes). Entry 0 and then every
//! `restartInterval`-th entry is a restart point: it stores its full key (shared = 0) and its
//! offset is in the restart array, so every region between two restarts except the last holds
//! exactly `restartInterval` entries. A block with no entries is the four bytes `00 00 00 00`.
//! There is no checksum inside a block; the table layer puts a CRC-32C in each block's trailer.
//!
//! Readers treat every byte as untrusted: offsets past the end, a varint that runs on, `shared`
//! longer than the previous key, a restart count the size cannot hold, restart offsets that are
//! not increasing or not at entry boundaries, keys out of order or uneven restart spacing all
//! give a Corruption error. Nothing here indexes without a bound check, so no input can panic.

use crate::batch::Batch;
use crate::coding::{get_u32_le, get_varint32, put_u32_le, put_varint32};
use crate::error::{Error, Result};
use std::cmp::Ordering;

/// Longest key a block stores: the store's are sort keys, an 8-byte token and up to 256 bytes of
/// key (src/constants.ts keyBytesMax), and index separators are no longer. A reader holds each
/// entry's key whole, so this bounds what a block whose entries share all but a byte of their
/// key can expand to: at 64 KiB a 300 KB block decoded to gigabytes, and an allocation that fails
/// in Rust aborts the process.
pub const BLOCK_KEY_BYTES_MAX: usize = 1024;
pub const RESTART_INTERVAL_MIN: u32 = 1;
pub const RESTART_INTERVAL_MAX: u32 = 65_536;
/// Longest value `blockFind` reports: its answer packs start + length * 2^32 into one f64,
/// which stays exact while start < 2^32 and length < 2^21.
pub const FIND_VALUE_BYTES_MAX: usize = (1 << 21) - 1;

fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

/// Encodes `keys[i] -> values[i]`; keys must be strictly increasing.
pub fn build(keys: &Batch, values: &Batch, restart_interval: u32) -> Result<Vec<u8>> {
    if keys.len() != values.len() {
        return Err(Error::invalid_argument(format!(
            "blockBuild: {} keys but {} values",
            keys.len(),
            values.len()
        )));
    }
    if !(RESTART_INTERVAL_MIN..=RESTART_INTERVAL_MAX).contains(&restart_interval) {
        return Err(Error::invalid_argument(format!(
            "blockBuild: restartInterval must be an integer in {RESTART_INTERVAL_MIN}..={RESTART_INTERVAL_MAX}, got {restart_interval}"
        )));
    }
    let n = keys.len();
    let interval = restart_interval as usize;
    let payload: usize = keys.iter().map(<[u8]>::len).sum::<usize>() + values.iter().map(<[u8]>::len).sum::<usize>();
    let mut out = Vec::with_capacity(payload + 3 * n + 4 * (n / interval + 1) + 4);
    let mut restarts: Vec<u32> = Vec::with_capacity(n / interval + 1);
    let mut previous: &[u8] = &[];
    for (i, (key, value)) in keys.iter().zip(values.iter()).enumerate() {
        if key.len() > BLOCK_KEY_BYTES_MAX {
            return Err(Error::invalid_argument(format!(
                "blockBuild: key {i} is {} bytes, over the limit of {BLOCK_KEY_BYTES_MAX}",
                key.len()
            )));
        }
        if i > 0 && key <= previous {
            return Err(Error::invalid_argument(format!(
                "blockBuild: keys must be strictly increasing, but key {i} is not greater than key {}",
                i - 1
            )));
        }
        let shared = if i % interval == 0 {
            let offset = u32::try_from(out.len())
                .map_err(|_| Error::invalid_argument("blockBuild: block would exceed 4 GiB"))?;
            restarts.push(offset);
            0
        } else {
            common_prefix(previous, key)
        };
        let delta = &key[shared..];
        // Lengths are below 2^32: each is bounded by a buffer addressed with u32 offsets.
        put_varint32(&mut out, shared as u32);
        put_varint32(&mut out, delta.len() as u32);
        put_varint32(&mut out, value.len() as u32);
        out.extend_from_slice(delta);
        out.extend_from_slice(value);
        previous = key;
    }
    if (out.len() as u64) + 4 * restarts.len() as u64 + 4 > u32::MAX as u64 {
        return Err(Error::invalid_argument("blockBuild: block would exceed 4 GiB"));
    }
    for &r in &restarts {
        put_u32_le(&mut out, r);
    }
    put_u32_le(&mut out, restarts.len() as u32);
    Ok(out)
}

/// One entry's header, parsed and bounds-checked against its region.
struct Entry {
    shared: usize,
    delta_start: usize,
    delta_end: usize,
    value_end: usize,
}

impl Entry {
    fn value_start(&self) -> usize {
        self.delta_end
    }
}

/// What a seek found: the entry index (when asked for) and the value of an exact match.
pub struct Found {
    pub index: usize,
    pub value: Option<(usize, usize)>,
}

/// A block whose trailer (restart array and count) was checked.
pub struct Block<'a> {
    bytes: &'a [u8],
    /// End of the entries, where the restart array starts.
    data_end: usize,
    num_restarts: usize,
}

fn corrupt<T>(message: String) -> Result<T> {
    Err(Error::corruption(message))
}

impl<'a> Block<'a> {
    pub fn parse(bytes: &'a [u8]) -> Result<Block<'a>> {
        let len = bytes.len();
        if len < 4 {
            return corrupt(format!("block of {len} bytes is shorter than its restart count"));
        }
        let num_restarts = get_u32_le(bytes, len - 4).unwrap_or(u32::MAX) as u64;
        let trailer = num_restarts * 4 + 4;
        if trailer > len as u64 {
            return corrupt(format!("restart count {num_restarts} is impossible for a block of {len} bytes"));
        }
        let data_end = len - trailer as usize;
        let num_restarts = num_restarts as usize;
        if (num_restarts == 0) != (data_end == 0) {
            return corrupt(format!("{num_restarts} restart points for {data_end} bytes of entries"));
        }
        let block = Block { bytes, data_end, num_restarts };
        let mut previous = None;
        for i in 0..num_restarts {
            let r = block.restart(i)?;
            let ok = match previous {
                None => r == 0,
                Some(p) => r > p && r < data_end,
            };
            if !ok {
                return corrupt(format!("restart offset {i} ({r}) is out of order or past the entries"));
            }
            previous = Some(r);
        }
        Ok(block)
    }

    fn restart(&self, i: usize) -> Result<usize> {
        match i.checked_mul(4).and_then(|p| get_u32_le(self.bytes, self.data_end + p)) {
            Some(r) if i < self.num_restarts => Ok(r as usize),
            _ => corrupt(format!("restart index {i} out of range")),
        }
    }

    /// End of restart region i: the next restart offset, or the end of the entries.
    fn region_end(&self, i: usize) -> Result<usize> {
        if i + 1 < self.num_restarts {
            self.restart(i + 1)
        } else {
            Ok(self.data_end)
        }
    }

    fn entry_at(&self, pos: usize, limit: usize) -> Result<Entry> {
        let bad = || Error::corruption(format!("entry at offset {pos} overruns its region (ends at {limit})"));
        let (shared, p) = get_varint32(self.bytes, pos, limit).ok_or_else(bad)?;
        let (unshared, p) = get_varint32(self.bytes, p, limit).ok_or_else(bad)?;
        let (value_len, p) = get_varint32(self.bytes, p, limit).ok_or_else(bad)?;
        let delta_end = p.checked_add(unshared as usize).ok_or_else(bad)?;
        let value_end = delta_end.checked_add(value_len as usize).ok_or_else(bad)?;
        if value_end > limit {
            return Err(bad());
        }
        Ok(Entry { shared: shared as usize, delta_start: p, delta_end, value_end })
    }

    fn slice(&self, start: usize, end: usize) -> Result<&'a [u8]> {
        match self.bytes.get(start..end) {
            Some(s) => Ok(s),
            None => corrupt(format!("range {start}..{end} is outside the block")),
        }
    }

    /// Applies an entry to the running key: keep `shared` bytes of it, append the delta.
    fn extend_key(&self, key: &mut Vec<u8>, e: &Entry, pos: usize) -> Result<()> {
        if e.shared > key.len() {
            return corrupt(format!("entry at offset {pos} shares {} bytes with a {}-byte key", e.shared, key.len()));
        }
        key.truncate(e.shared);
        key.extend_from_slice(self.slice(e.delta_start, e.delta_end)?);
        if key.len() > BLOCK_KEY_BYTES_MAX {
            return corrupt(format!("entry at offset {pos} has a key over {BLOCK_KEY_BYTES_MAX} bytes"));
        }
        Ok(())
    }

    /// The full key of restart point i (stored whole, so it is borrowed from the block).
    fn restart_key(&self, i: usize) -> Result<&'a [u8]> {
        let pos = self.restart(i)?;
        let e = self.entry_at(pos, self.region_end(i)?)?;
        if e.shared != 0 {
            return corrupt(format!("restart entry at offset {pos} has shared = {}", e.shared));
        }
        if e.delta_end - e.delta_start > BLOCK_KEY_BYTES_MAX {
            return corrupt(format!("entry at offset {pos} has a key over {BLOCK_KEY_BYTES_MAX} bytes"));
        }
        self.slice(e.delta_start, e.delta_end)
    }

    /// Entries in restart region i, counted without building keys.
    fn region_count(&self, i: usize) -> Result<usize> {
        let end = self.region_end(i)?;
        let mut pos = self.restart(i)?;
        let mut count = 0;
        while pos < end {
            pos = self.entry_at(pos, end)?.value_end;
            count += 1;
        }
        Ok(count)
    }

    /// Finds the first entry whose key is >= target: binary search over the restart keys for the
    /// last restart below target, then a linear scan of that region. The entry index is only
    /// computed when `want_index` (it needs the restart interval, read off region 0's length).
    pub fn seek(&self, target: &[u8], want_index: bool) -> Result<Found> {
        if self.num_restarts == 0 {
            return Ok(Found { index: 0, value: None });
        }
        let (mut left, mut right) = (0usize, self.num_restarts - 1);
        while left < right {
            let mid = left + (right - left).div_ceil(2);
            if self.restart_key(mid)? < target {
                left = mid;
            } else {
                right = mid - 1;
            }
        }
        let interval = if want_index && self.num_restarts > 1 { Some(self.region_count(0)?) } else { None };

        let end = self.region_end(left)?;
        let mut pos = self.restart(left)?;
        let mut key: Vec<u8> = Vec::new();
        let mut j = 0usize;
        while pos < end {
            let e = self.entry_at(pos, end)?;
            if j == 0 && e.shared != 0 {
                return corrupt(format!("restart entry at offset {pos} has shared = {}", e.shared));
            }
            self.extend_key(&mut key, &e, pos)?;
            if let Some(interval) = interval {
                if j >= interval {
                    return corrupt(format!("restart region {left} holds more than {interval} entries"));
                }
            }
            match key.as_slice().cmp(target) {
                Ordering::Less => {}
                ordering => {
                    let value = (ordering == Ordering::Equal).then_some((e.value_start(), e.value_end));
                    return Ok(Found { index: left * interval.unwrap_or(0) + j, value });
                }
            }
            pos = e.value_end;
            j += 1;
        }
        // Every key of region `left` is below target: the answer is the next region's first entry.
        if left + 1 < self.num_restarts {
            if let Some(interval) = interval {
                if j != interval {
                    return corrupt(format!("restart region {left} holds {j} entries, not {interval}"));
                }
            }
            let next = left + 1;
            let value = if self.restart_key(next)? == target {
                let e = self.entry_at(self.restart(next)?, self.region_end(next)?)?;
                Some((e.value_start(), e.value_end))
            } else {
                None
            };
            return Ok(Found { index: next * interval.unwrap_or(0), value });
        }
        Ok(Found { index: left * interval.unwrap_or(0) + j, value: None })
    }

    /// Where the value stored under exactly `key` lies: its byte range within the block.
    pub fn find(&self, key: &[u8]) -> Result<Option<(usize, usize)>> {
        match self.seek(key, false)?.value {
            Some((start, end)) => {
                self.slice(start, end)?;
                Ok(Some((start, end)))
            }
            None => Ok(None),
        }
    }

    pub fn get(&self, key: &[u8]) -> Result<Option<&'a [u8]>> {
        match self.seek(key, false)?.value {
            Some((start, end)) => Ok(Some(self.slice(start, end)?)),
            None => Ok(None),
        }
    }

    /// Visits every entry in order as (key, value start, value end), checked end to end: order,
    /// restart placement and even spacing. Returns the entry count.
    fn walk(&self, mut visit: impl FnMut(&[u8], usize, usize) -> Result<()>) -> Result<usize> {
        let mut pos = 0usize;
        let mut next_restart = 0usize;
        let mut interval: Option<usize> = None;
        let mut key: Vec<u8> = Vec::new();
        let mut previous: Vec<u8> = Vec::new();
        let mut count = 0usize;
        while pos < self.data_end {
            let at_restart = next_restart < self.num_restarts && self.restart(next_restart)? == pos;
            if !at_restart && next_restart < self.num_restarts && self.restart(next_restart)? < pos {
                return corrupt(format!("restart offset {next_restart} is not at an entry boundary"));
            }
            let e = self.entry_at(pos, self.data_end)?;
            if at_restart {
                if e.shared != 0 {
                    return corrupt(format!("restart entry at offset {pos} has shared = {}", e.shared));
                }
                match interval {
                    None if next_restart == 1 => interval = Some(count),
                    Some(i) if count != next_restart * i => {
                        return corrupt(format!("restart {next_restart} is at entry {count}, not {}", next_restart * i));
                    }
                    _ => {}
                }
                next_restart += 1;
            } else if let Some(i) = interval {
                if count >= next_restart * i {
                    return corrupt(format!("entry {count} should be a restart point"));
                }
            }
            self.extend_key(&mut key, &e, pos)?;
            if count > 0 && key.as_slice() <= previous.as_slice() {
                return corrupt(format!("key of entry {count} is not greater than the one before"));
            }
            self.slice(e.value_start(), e.value_end)?;
            visit(&key, e.value_start(), e.value_end)?;
            previous.clear();
            previous.extend_from_slice(&key);
            count += 1;
            pos = e.value_end;
        }
        if next_restart != self.num_restarts {
            return corrupt(format!("only {next_restart} of {} restart offsets are at entries", self.num_restarts));
        }
        Ok(count)
    }

    /// Every entry, checked end to end (see `walk`), copied out as columns.
    pub fn decode(&self) -> Result<Decoded> {
        let mut d = Decoded { keys: Vec::new(), key_offsets: vec![0], values: Vec::new(), value_offsets: vec![0] };
        let bytes = self.bytes;
        self.walk(|key, start, end| {
            let (Ok(ko), Ok(vo)) = (u32::try_from(d.keys.len() + key.len()), u32::try_from(d.values.len() + (end - start))) else {
                return corrupt("decoded block exceeds 4 GiB".to_string());
            };
            // A failed allocation is an error here, not the process's abort.
            if d.keys.try_reserve(key.len()).is_err() || d.values.try_reserve(end - start).is_err() {
                return corrupt(format!("decoded block of {} bytes does not fit in memory", d.keys.len() + d.values.len()));
            }
            d.keys.extend_from_slice(key);
            d.values.extend_from_slice(&bytes[start..end]);
            d.key_offsets.push(ko);
            d.value_offsets.push(vo);
            Ok(())
        })?;
        Ok(d)
    }

    /// Every entry, checked as by `decode`, written into the caller's arrays without allocating
    /// for the values: keys (rebuilt from their shared prefixes) go one after another into
    /// `keys_out`, and `offsets_out[3i..3i+3]` = [end of key i in keys_out, start of value i in
    /// the block, end of value i in the block]. `offsets_out` must hold 3 per entry (a block of
    /// n bytes holds at most n / 3 entries, so n u32s always do). When `keys_out` is too short,
    /// nothing useful is written and the answer is `TooShort(bytes needed)`.
    pub fn entries_into(&self, keys_out: &mut [u8], offsets_out: &mut [u32]) -> Result<EntriesInto> {
        let mut key_bytes = 0usize;
        let mut i = 0usize;
        let count = self.walk(|key, start, end| {
            let key_end = key_bytes + key.len();
            if key_end <= keys_out.len() {
                keys_out[key_bytes..key_end].copy_from_slice(key);
            }
            key_bytes = key_end;
            match offsets_out.get_mut(3 * i..3 * i + 3) {
                Some(o) => {
                    let (Ok(k), Ok(s), Ok(e)) = (u32::try_from(key_end), u32::try_from(start), u32::try_from(end)) else {
                        return corrupt("block entries exceed 4 GiB".to_string());
                    };
                    o.copy_from_slice(&[k, s, e]);
                }
                None => return Err(Error::invalid_argument(format!("blockEntries: offsets hold {} u32s, too few for entry {i}", offsets_out.len()))),
            }
            i += 1;
            Ok(())
        })?;
        Ok(if key_bytes > keys_out.len() { EntriesInto::TooShort(key_bytes) } else { EntriesInto::Fits(count) })
    }
}

/// What `entries_into` did: wrote `Fits(count)` entries, or needs a keys array of this many bytes.
#[derive(Debug, PartialEq, Eq)]
pub enum EntriesInto {
    Fits(usize),
    TooShort(usize),
}

/// Columns of a decoded block; entry i is keys[key_offsets[i]..key_offsets[i+1]].
pub struct Decoded {
    pub keys: Vec<u8>,
    pub key_offsets: Vec<u32>,
    pub values: Vec<u8>,
    pub value_offsets: Vec<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pack(items: &[&[u8]]) -> (Vec<u8>, Vec<u32>) {
        let mut data = Vec::new();
        let mut offsets = vec![0u32];
        for it in items {
            data.extend_from_slice(it);
            offsets.push(data.len() as u32);
        }
        (data, offsets)
    }

    fn make(keys: &[&[u8]], values: &[&[u8]], interval: u32) -> Result<Vec<u8>> {
        let (kd, ko) = pack(keys);
        let (vd, vo) = pack(values);
        build(&Batch::new(&kd, &ko, "k")?, &Batch::new(&vd, &vo, "v")?, interval)
    }

    #[test]
    fn entries_into_matches_decode() {
        let keys: Vec<Vec<u8>> = (0..50u32).map(|i| format!("prefix-key{:04}", i * 3).into_bytes()).collect();
        let vals: Vec<Vec<u8>> = (0..50u32).map(|i| vec![i as u8; (i % 9) as usize]).collect();
        let kr: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let vr: Vec<&[u8]> = vals.iter().map(|v| v.as_slice()).collect();
        let bytes = make(&kr, &vr, 4).unwrap();
        let blk = Block::parse(&bytes).unwrap();
        let mut offsets = vec![0u32; bytes.len()];
        let needed: usize = keys.iter().map(Vec::len).sum();
        let mut short = vec![0u8; needed - 1];
        assert_eq!(blk.entries_into(&mut short, &mut offsets).unwrap(), EntriesInto::TooShort(needed));
        let mut out = vec![0u8; needed];
        assert_eq!(blk.entries_into(&mut out, &mut offsets).unwrap(), EntriesInto::Fits(50));
        let mut key_start = 0usize;
        for i in 0..50 {
            let (ke, vs, ve) = (offsets[3 * i] as usize, offsets[3 * i + 1] as usize, offsets[3 * i + 2] as usize);
            assert_eq!(&out[key_start..ke], keys[i].as_slice());
            assert_eq!(&bytes[vs..ve], vals[i].as_slice());
            key_start = ke;
        }
        let mut few = vec![0u32; 3 * 49];
        assert!(blk.entries_into(&mut out, &mut few).is_err());
    }

    #[test]
    fn find_reports_the_value_range() {
        let keys: Vec<Vec<u8>> = (0..40u32).map(|i| format!("key{i:03}").into_bytes()).collect();
        let vals: Vec<Vec<u8>> = (0..40u32).map(|i| vec![i as u8; (i % 7) as usize]).collect();
        let kr: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let vr: Vec<&[u8]> = vals.iter().map(|v| v.as_slice()).collect();
        let bytes = make(&kr, &vr, 16).unwrap();
        let blk = Block::parse(&bytes).unwrap();
        for i in 0..keys.len() {
            let (start, end) = blk.find(&keys[i]).unwrap().unwrap();
            assert_eq!(&bytes[start..end], vals[i].as_slice());
        }
        assert_eq!(blk.find(b"key0005").unwrap(), None);
        assert_eq!(blk.find(b"zzz").unwrap(), None);
    }

    #[test]
    fn empty_block() {
        let b = make(&[], &[], 16).unwrap();
        assert_eq!(b, vec![0, 0, 0, 0]);
        let blk = Block::parse(&b).unwrap();
        assert_eq!(blk.get(b"a").unwrap(), None);
        assert_eq!(blk.seek(b"a", true).unwrap().index, 0);
        assert!(blk.decode().unwrap().keys.is_empty());
    }

    #[test]
    fn exact_bytes_of_a_small_block() {
        let b = make(&[b"apple", b"apply", b"banana"], &[b"1", b"", b"33"], 2).unwrap();
        let expected: Vec<u8> = [
            &[0u8, 5, 1][..], b"apple", b"1", // entry 0, restart at 0
            &[4, 1, 0][..], b"y",             // entry 1 shares "appl"
            &[0, 6, 2][..], b"banana", b"33", // entry 2, restart at 13
            &[0, 0, 0, 0, 13, 0, 0, 0, 2, 0, 0, 0][..],
        ]
        .concat();
        assert_eq!(b, expected);
    }

    #[test]
    fn get_seek_decode() {
        let keys: Vec<Vec<u8>> = (0..100u32).map(|i| format!("key{:04}", i * 2).into_bytes()).collect();
        let vals: Vec<Vec<u8>> = (0..100u32).map(|i| format!("v{i}").into_bytes()).collect();
        let kr: Vec<&[u8]> = keys.iter().map(|k| k.as_slice()).collect();
        let vr: Vec<&[u8]> = vals.iter().map(|k| k.as_slice()).collect();
        for interval in [1u32, 3, 16, 200] {
            let b = make(&kr, &vr, interval).unwrap();
            let blk = Block::parse(&b).unwrap();
            for i in 0..100usize {
                assert_eq!(blk.get(&keys[i]).unwrap(), Some(vals[i].as_slice()));
                assert_eq!(blk.seek(&keys[i], true).unwrap().index, i);
                let between = format!("key{:04}", i * 2 + 1).into_bytes();
                assert_eq!(blk.get(&between).unwrap(), None);
                assert_eq!(blk.seek(&between, true).unwrap().index, i + 1);
            }
            assert_eq!(blk.seek(b"", true).unwrap().index, 0);
            assert_eq!(blk.decode().unwrap().key_offsets.len(), 101);
        }
    }

    /// A block of `entries` whose keys are `first` bytes, then each all but its last byte shared
    /// with the one before: what a crafted block uses to expand.
    fn shared_keys_block(first: usize, entries: usize) -> Vec<u8> {
        let mut b = Vec::new();
        put_varint32(&mut b, 0);
        put_varint32(&mut b, first as u32);
        put_varint32(&mut b, 0);
        b.resize(b.len() + first - 1, b'a');
        b.push(0);
        for i in 1..entries {
            put_varint32(&mut b, first as u32 - 1);
            put_varint32(&mut b, 1);
            put_varint32(&mut b, 0);
            b.push(i as u8);
        }
        put_u32_le(&mut b, 0);
        put_u32_le(&mut b, 1);
        b
    }

    #[test]
    fn keys_over_the_limit_are_corruption() {
        // At the limit a block reads; one byte over, whether whole or grown by shared prefixes, not.
        let ok = shared_keys_block(BLOCK_KEY_BYTES_MAX, 200);
        assert_eq!(Block::parse(&ok).unwrap().decode().unwrap().key_offsets.len(), 201);
        let long = shared_keys_block(BLOCK_KEY_BYTES_MAX + 1, 2);
        assert!(Block::parse(&long).and_then(|b| b.decode().map(|_| ())).is_err());
        let long = shared_keys_block(65_535, 2);
        assert!(Block::parse(&long).and_then(|b| b.decode().map(|_| ())).is_err());
    }

    #[test]
    fn unsorted_and_truncated() {
        assert!(make(&[b"b", b"a"], &[b"", b""], 16).is_err());
        assert!(make(&[b"a", b"a"], &[b"", b""], 16).is_err());
        let b = make(&[b"alpha", b"beta", b"gamma"], &[b"1", b"2", b"3"], 2).unwrap();
        for len in 0..b.len() {
            let r = Block::parse(&b[..len]).and_then(|blk| blk.decode().map(|_| ()));
            assert!(r.is_err(), "truncated to {len}");
        }
    }
}
