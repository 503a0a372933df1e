//! CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), the checksum of WAL records and SSTable
//! blocks. Two paths with one result: the SSE4.2 `crc32` instruction, 8 bytes at a time, when the
//! CPU has it (checked once at run time, cached by std), and a slicing-by-8 table otherwise.
//! The running value is the finished CRC of what came before (0 to start), so
//! `crc32c(b, crc32c(a, 0)) == crc32c(a ‖ b, 0)`: callers can checksum a record in pieces.

const POLY: u32 = 0x82F6_3B78;

/// TABLES[0] is the classic byte table; TABLES[k][b] is the CRC of byte b followed by k zero
/// bytes, which lets the slicing loop fold eight input bytes per step.
static TABLES: [[u32; 256]; 8] = make_tables();

const fn make_tables() -> [[u32; 256]; 8] {
    let mut tables = [[0u32; 256]; 8];
    let mut i = 0;
    while i < 256 {
        let mut c = i as u32;
        let mut bit = 0;
        while bit < 8 {
            c = if c & 1 != 0 { (c >> 1) ^ POLY } else { c >> 1 };
            bit += 1;
        }
        tables[0][i] = c;
        i += 1;
    }
    let mut k = 1;
    while k < 8 {
        let mut i = 0;
        while i < 256 {
            let prev = tables[k - 1][i];
            tables[k][i] = (prev >> 8) ^ tables[0][(prev & 0xff) as usize];
            i += 1;
        }
        k += 1;
    }
    tables
}

/// The table-driven CRC-32C, whatever the CPU offers.
pub fn crc32c_software(crc: u32, data: &[u8]) -> u32 {
    let t = &TABLES;
    let mut c = !crc;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let lo = u32::from_le_bytes([ch[0], ch[1], ch[2], ch[3]]) ^ c;
        let hi = u32::from_le_bytes([ch[4], ch[5], ch[6], ch[7]]);
        c = t[7][(lo & 0xff) as usize]
            ^ t[6][((lo >> 8) & 0xff) as usize]
            ^ t[5][((lo >> 16) & 0xff) as usize]
            ^ t[4][(lo >> 24) as usize]
            ^ t[3][(hi & 0xff) as usize]
            ^ t[2][((hi >> 8) & 0xff) as usize]
            ^ t[1][((hi >> 16) & 0xff) as usize]
            ^ t[0][(hi >> 24) as usize];
    }
    for &b in chunks.remainder() {
        c = t[0][((c ^ b as u32) & 0xff) as usize] ^ (c >> 8);
    }
    !c
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn crc32c_sse42(crc: u32, data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u64, _mm_crc32_u8};
    let mut c = (!crc) as u64;
    let mut chunks = data.chunks_exact(8);
    for ch in &mut chunks {
        let word = u64::from_le_bytes([ch[0], ch[1], ch[2], ch[3], ch[4], ch[5], ch[6], ch[7]]);
        c = _mm_crc32_u64(c, word);
    }
    let mut c = c as u32;
    for &b in chunks.remainder() {
        c = _mm_crc32_u8(c, b);
    }
    !c
}

/// Whether `crc32c` uses the SSE4.2 instruction on this machine.
pub fn hardware_available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("sse4.2")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// CRC-32C of `data`, extending `crc`; the fastest path this CPU has.
pub fn crc32c(crc: u32, data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        if hardware_available() {
            // SAFETY: the only requirement of a #[target_feature] function is that the CPU has
            // the feature, which was just detected at run time.
            return unsafe { crc32c_sse42(crc, data) };
        }
    }
    crc32c_software(crc, data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_vectors() {
        // RFC 3720 (iSCSI) B.4 and the common "123456789" check value.
        assert_eq!(crc32c_software(0, b"123456789"), 0xE306_9283);
        assert_eq!(crc32c_software(0, &[0u8; 32]), 0x8A91_36AA);
        assert_eq!(crc32c_software(0, &[0xffu8; 32]), 0x62A8_AB43);
        let asc: Vec<u8> = (0u8..32).collect();
        assert_eq!(crc32c_software(0, &asc), 0x46DD_794E);
        let desc: Vec<u8> = (0u8..32).rev().collect();
        assert_eq!(crc32c_software(0, &desc), 0x113F_DB5C);
        assert_eq!(crc32c(0, b"123456789"), 0xE306_9283);
    }

    #[test]
    fn paths_agree_and_extend() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
        for start in 0..9 {
            for len in [0usize, 1, 7, 8, 9, 63, 64, 65, 500] {
                let s = &data[start..start + len];
                assert_eq!(crc32c(0, s), crc32c_software(0, s));
                let (a, b) = s.split_at(len / 3);
                assert_eq!(crc32c(crc32c(0, a), b), crc32c(0, s));
            }
        }
    }
}
