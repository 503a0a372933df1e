//! Bloom filters over a batch of keys, one per SSTable, so a point read skips tables that cannot
//! hold its key.
//!
//! Serialized form (LevelDB's layout, with a 64-bit hash):
//!
//! ```text
//!   bits[0 .. n)   the bit array, m = 8 * n bits; bit j is (bits[j / 8] >> (j % 8)) & 1
//!   k     (u8)     the number of probes, 1..=30
//! ```
//!
//! A filter is at least 64 bits (n >= 8), so even a filter over zero keys is 9 bytes. Probes use
//! double hashing from one XXH64 of the key with the seed `BLOOM_SEED`
//! (h = xxh64(key, BLOOM_SEED), h1 = h mod 2^32, h2 = h >> 32): probe i (0 <= i < k) sets or tests
//! bit (h1 + i * h2) mod m, computed in 64 bits so it never wraps. The seed differs from the ring's
//! seed 0 so the filter's bits are not correlated with the token order that groups keys into
//! tables. k = round(bitsPerKey * ln 2), the count that minimises false positives, clamped to 1..=30.
//! Anything else (shorter than 2 bytes, k of 0 or over 30) is reported as corruption.

use crate::batch::Batch;
use crate::error::{Error, Result};
use crate::xxhash64::xxhash64;

/// "rkvbloom" in ASCII.
pub const BLOOM_SEED: u64 = 0x726b_7662_6c6f_6f6d;
pub const BITS_PER_KEY_MIN: u32 = 1;
pub const BITS_PER_KEY_MAX: u32 = 32;
pub const PROBES_MAX: u8 = 30;
const BITS_MIN: u64 = 64;
/// Largest filter built in one call; far above any SSTable's, a bound on the allocation.
pub const FILTER_BYTES_MAX: u64 = 1 << 30;

/// Probe count for a bits-per-key setting: round(bpk * ln 2), clamped to 1..=30.
pub fn probes_for(bits_per_key: u32) -> u8 {
    let k = (bits_per_key as f64 * std::f64::consts::LN_2).round() as u32;
    k.clamp(1, PROBES_MAX as u32) as u8
}

#[inline(always)]
fn probe_positions(key: &[u8], k: u8, m: u64) -> impl Iterator<Item = u64> {
    let h = xxhash64(key, BLOOM_SEED);
    let h1 = h & 0xffff_ffff;
    let h2 = h >> 32;
    (0..k as u64).map(move |i| (h1 + i * h2) % m)
}

pub fn build(keys: &Batch, bits_per_key: u32) -> Result<Vec<u8>> {
    if !(BITS_PER_KEY_MIN..=BITS_PER_KEY_MAX).contains(&bits_per_key) {
        return Err(Error::invalid_argument(format!(
            "bloomBuild: bitsPerKey must be an integer in {BITS_PER_KEY_MIN}..={BITS_PER_KEY_MAX}, got {bits_per_key}"
        )));
    }
    let bits = (keys.len() as u64 * bits_per_key as u64).max(BITS_MIN);
    let nbytes = bits.div_ceil(8);
    if nbytes > FILTER_BYTES_MAX {
        return Err(Error::invalid_argument(format!(
            "bloomBuild: a filter of {nbytes} bytes is over the limit of {FILTER_BYTES_MAX}"
        )));
    }
    let m = nbytes * 8;
    let k = probes_for(bits_per_key);
    let mut out = vec![0u8; nbytes as usize + 1];
    for key in keys.iter() {
        for pos in probe_positions(key, k, m) {
            if let Some(byte) = out.get_mut((pos / 8) as usize) {
                *byte |= 1 << (pos % 8);
            }
        }
    }
    if let Some(last) = out.last_mut() {
        *last = k;
    }
    Ok(out)
}

/// A filter whose framing was checked: the bit array and its probe count.
pub struct Filter<'a> {
    bits: &'a [u8],
    k: u8,
}

impl<'a> Filter<'a> {
    pub fn parse(filter: &'a [u8]) -> Result<Filter<'a>> {
        let (k, bits) = match filter.split_last() {
            Some((&k, bits)) if !bits.is_empty() => (k, bits),
            _ => return Err(Error::corruption(format!("bloom filter of {} bytes is too short", filter.len()))),
        };
        if k == 0 || k > PROBES_MAX {
            return Err(Error::corruption(format!("bloom filter probe count {k} is outside 1..={PROBES_MAX}")));
        }
        Ok(Filter { bits, k })
    }

    pub fn may_contain(&self, key: &[u8]) -> bool {
        let m = self.bits.len() as u64 * 8;
        probe_positions(key, self.k, m).all(|pos| match self.bits.get((pos / 8) as usize) {
            Some(byte) => byte & (1 << (pos % 8)) != 0,
            None => true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_false_negatives_and_few_false_positives() {
        let n = 10_000u32;
        let mut data = Vec::new();
        let mut offsets = vec![0u32];
        for i in 0..n {
            data.extend_from_slice(format!("key-{i}").as_bytes());
            offsets.push(data.len() as u32);
        }
        let batch = Batch::new(&data, &offsets, "t").unwrap();
        let bytes = build(&batch, 10).unwrap();
        assert_eq!(*bytes.last().unwrap(), 7);
        let f = Filter::parse(&bytes).unwrap();
        assert!(batch.iter().all(|k| f.may_contain(k)));
        let fp = (0..n).filter(|i| f.may_contain(format!("other-{i}").as_bytes())).count();
        assert!(fp < 200, "{fp} false positives");
    }

    #[test]
    fn rejects_bad_input() {
        let batch = Batch::new(&[], &[0], "t").unwrap();
        assert!(build(&batch, 0).is_err());
        assert!(build(&batch, 33).is_err());
        assert_eq!(build(&batch, 10).unwrap().len(), 9);
        assert!(Filter::parse(&[]).is_err());
        assert!(Filter::parse(&[7]).is_err());
        assert!(Filter::parse(&[0, 0]).is_err());
        assert!(Filter::parse(&[0, 31]).is_err());
    }
}
