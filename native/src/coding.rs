//! LEB128 varint32 and little-endian u32, the integer encodings of SSTable data blocks
//! (LevelDB's util/coding). Decoding is bounded by an explicit limit and never reads past it:
//! the bytes come from disk and may be damaged.

/// Appends `v` as a LEB128 varint (1 to 5 bytes).
pub fn put_varint32(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Decodes a varint32 from `data[pos..limit]`; returns the value and the position after it, or
/// None when it runs past `limit` or does not fit 32 bits.
pub fn get_varint32(data: &[u8], pos: usize, limit: usize) -> Option<(u32, usize)> {
    let limit = limit.min(data.len());
    let mut result: u32 = 0;
    let mut p = pos;
    for shift in [0u32, 7, 14, 21, 28] {
        if p >= limit {
            return None;
        }
        let byte = *data.get(p)?;
        p += 1;
        if shift == 28 && byte > 0x0f {
            return None; // a fifth byte may only carry the top 4 bits
        }
        result |= ((byte & 0x7f) as u32) << shift;
        if byte & 0x80 == 0 {
            return Some((result, p));
        }
    }
    None
}

pub fn put_u32_le(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// The little-endian u32 at `data[pos..pos+4]`, or None when that is out of range.
pub fn get_u32_le(data: &[u8], pos: usize) -> Option<u32> {
    let b = data.get(pos..pos.checked_add(4)?)?;
    Some(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_round_trip_and_bounds() {
        for v in [0u32, 1, 127, 128, 300, 16_383, 16_384, 1 << 21, (1 << 28) - 1, 1 << 28, u32::MAX] {
            let mut buf = Vec::new();
            put_varint32(&mut buf, v);
            assert_eq!(get_varint32(&buf, 0, buf.len()), Some((v, buf.len())));
            assert_eq!(get_varint32(&buf, 0, buf.len() - 1), None);
        }
        assert_eq!(get_varint32(&[0xff, 0xff, 0xff, 0xff, 0x1f], 0, 5), None);
        assert_eq!(get_varint32(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00], 0, 6), None);
        assert_eq!(get_u32_le(&[1, 0, 0], 0), None);
        assert_eq!(get_u32_le(&[1, 0, 0, 0], usize::MAX), None);
    }
}
