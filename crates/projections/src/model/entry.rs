//! A model entry: one allocation held by a thin pointer beside its key's head (the crate's only `unsafe`).

use super::len32;

/// One entry of a model in one allocation — its key's and its value's
/// lengths (u32 each, little-endian), the key, the value — held by a thin
/// pointer beside the key's first eight bytes. Finding a key in a large model
/// compares numbers held in the tree's nodes instead of following a pointer
/// (a cache miss) per key passed on the way, and an entry still takes 16 bytes
/// of a node, as a boxed slice would. Ordered, compared and looked up by its key.
///
/// The crate's only `unsafe`: the thin pointer is a `Box<[u8]>` taken apart,
/// whose length the allocation's own header gives back.
pub(super) struct Entry {
    head: u64,
    /// The start of a leaked `Box<[u8]>` of `HEADER + key + value` bytes, the
    /// lengths being those its header holds. Owned by the entry alone.
    bytes: std::ptr::NonNull<u8>,
}

/// Bytes of an entry's header: the key's length and the value's.
const HEADER: usize = 8;

// SAFETY: an entry owns its allocation alone, as a `Box<[u8]>` does, and never
// changes it: sending or sharing one is sending or sharing a `Box<[u8]>`.
#[allow(unsafe_code)]
unsafe impl Send for Entry {}
// SAFETY: as above.
#[allow(unsafe_code)]
unsafe impl Sync for Entry {}

/// The first eight bytes of a key as a big-endian number, zero-padded: if
/// `head(a) < head(b)` then `a < b`, so keys are ordered by their heads first
/// and only keys with the same head are compared whole.
#[inline]
pub(super) fn head(key: &[u8]) -> u64 {
    let mut h = [0u8; 8];
    let n = key.len().min(8);
    h[..n].copy_from_slice(&key[..n]);
    u64::from_be_bytes(h)
}

impl Entry {
    pub(super) fn new(key: &[u8], value: &[u8]) -> Entry {
        // Keys and values are bounded far below 4 GiB; were one not, it would
        // be held cut to what its header says — never past its allocation.
        let (klen, vlen) = (len32(key.len()), len32(value.len()));
        let (key, value) = (&key[..klen as usize], &value[..vlen as usize]);
        let mut b = Vec::with_capacity(HEADER + key.len() + value.len());
        b.extend_from_slice(&klen.to_le_bytes());
        b.extend_from_slice(&vlen.to_le_bytes());
        b.extend_from_slice(key);
        b.extend_from_slice(value);
        let leaked: &'static mut [u8] = Box::leak(b.into_boxed_slice());
        Entry {
            head: head(key),
            bytes: std::ptr::NonNull::from(leaked).cast::<u8>(),
        }
    }

    /// The first eight bytes of the key, as [`head`] gives them.
    #[inline]
    pub(super) fn key_head(&self) -> u64 {
        self.head
    }

    /// The key's and the value's lengths.
    #[inline]
    fn header(&self) -> (usize, usize) {
        // SAFETY: the allocation starts with the 8-byte header written in
        // `new` and never changed; it lives as long as `self`.
        #[allow(unsafe_code)]
        let h: &[u8] = unsafe { std::slice::from_raw_parts(self.bytes.as_ptr(), HEADER) };
        let (k, v) = h.split_at(4);
        let word = |b: &[u8]| {
            let mut w = [0u8; 4];
            w.copy_from_slice(b);
            u32::from_le_bytes(w) as usize
        };
        (word(k), word(v))
    }

    /// The whole allocation.
    #[inline]
    fn bytes(&self) -> &[u8] {
        let (k, v) = self.header();
        // SAFETY: `bytes` starts the live allocation of `HEADER + k + v` bytes
        // this entry owns (its header gives the lengths `new` allocated for);
        // the slice borrows `self`, so it cannot outlive the entry.
        #[allow(unsafe_code)]
        unsafe {
            std::slice::from_raw_parts(self.bytes.as_ptr(), HEADER + k + v)
        }
    }

    /// The key and the value.
    #[inline]
    pub(super) fn split(&self) -> (&[u8], &[u8]) {
        let (k, _) = self.header();
        self.bytes()[HEADER..].split_at(k)
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        let (k, v) = self.header();
        let raw = std::ptr::slice_from_raw_parts_mut(self.bytes.as_ptr(), HEADER + k + v);
        // SAFETY: `raw` is the `Box<[u8]>` leaked in `new` — the same pointer
        // and length — given back once, here, when its only owner goes.
        #[allow(unsafe_code)]
        drop(unsafe { Box::from_raw(raw) });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// An entry gives back the key and the value it was made of, and its
        /// key's head, whatever their lengths (empty ones included); dropping
        /// it frees what it took (checked under Miri or a leak checker).
        #[test]
        fn an_entry_holds_its_key_and_value(
            key in proptest::collection::vec(any::<u8>(), 0..40),
            value in proptest::collection::vec(any::<u8>(), 0..300),
        ) {
            let entry = Entry::new(&key, &value);
            prop_assert_eq!(entry.split(), (&key[..], &value[..]));
            prop_assert_eq!(entry.key_head(), head(&key));
            // Sent to another thread and dropped there, as a model's entries are.
            let entry = std::thread::spawn(move || entry).join().unwrap();
            prop_assert_eq!(entry.split().1.len(), value.len());
        }
    }

    #[test]
    fn heads_order_keys_as_their_bytes_do() {
        let keys: [&[u8]; 6] = [b"", b"\x00", b"a", b"a\x00", b"abcdefgh", b"abcdefgh\xff"];
        for a in keys {
            for b in keys {
                if head(a) < head(b) {
                    assert!(a < b, "{a:?} {b:?}");
                }
            }
        }
    }
}
