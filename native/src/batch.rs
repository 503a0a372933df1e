//! Batches cross the JS boundary as one byte buffer plus n+1 u32 offsets: item i is
//! `data[offsets[i]..offsets[i+1]]`. One buffer and one offsets array cost two N-API lookups no
//! matter how many items there are, which is the point of batching. This module checks the
//! offsets once (so the per-item slicing below can never go out of bounds) and hands out the items.

use crate::error::{Error, Result};

/// Most items one batch may carry; a bound on every loop and allocation driven by the caller.
pub const BATCH_ITEMS_MAX: usize = 1 << 24;

/// A checked batch: every offset is monotonic and inside `data`.
pub struct Batch<'a> {
    data: &'a [u8],
    offsets: &'a [u32],
}

impl<'a> Batch<'a> {
    pub fn new(data: &'a [u8], offsets: &'a [u32], what: &str) -> Result<Batch<'a>> {
        if offsets.is_empty() {
            return Err(Error::invalid_argument(format!("{what}: offsets must hold n+1 entries (at least one)")));
        }
        if offsets.len() - 1 > BATCH_ITEMS_MAX {
            return Err(Error::invalid_argument(format!(
                "{what}: {} items is over the batch limit of {BATCH_ITEMS_MAX}",
                offsets.len() - 1
            )));
        }
        let mut previous = offsets[0];
        for (i, &offset) in offsets.iter().enumerate() {
            if offset < previous {
                return Err(Error::invalid_argument(format!(
                    "{what}: offsets must not decrease (offsets[{i}] = {offset} < {previous})"
                )));
            }
            previous = offset;
        }
        if previous as usize > data.len() {
            return Err(Error::invalid_argument(format!(
                "{what}: last offset {previous} is past the end of the {}-byte buffer",
                data.len()
            )));
        }
        Ok(Batch { data, offsets })
    }

    pub fn len(&self) -> usize {
        self.offsets.len() - 1
    }

    /// The items in order. The bounds were checked in `new`, so `get` never fails here; an
    /// empty slice stands in rather than a panic should that ever be wrong.
    pub fn iter(&self) -> impl Iterator<Item = &'a [u8]> + '_ {
        let data = self.data;
        self.offsets
            .windows(2)
            .map(move |w| data.get(w[0] as usize..w[1] as usize).unwrap_or(&[]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_and_rejects() {
        let data = b"abcdef";
        let b = Batch::new(data, &[0, 2, 2, 6], "t").unwrap();
        let items: Vec<&[u8]> = b.iter().collect();
        assert_eq!(items, vec![&b"ab"[..], &b""[..], &b"cdef"[..]]);
        assert!(Batch::new(data, &[], "t").is_err());
        assert!(Batch::new(data, &[0, 3, 2], "t").is_err());
        assert!(Batch::new(data, &[0, 7], "t").is_err());
        assert_eq!(Batch::new(data, &[4], "t").unwrap().len(), 0);
    }
}
