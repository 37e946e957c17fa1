//! Deterministic randomness: the emulator must give the same bytes for the
//! same inputs on every machine and every Rust version, so it uses fixed,
//! documented algorithms instead of `std`'s (unspecified) hasher.

/// SplitMix64: tiny, fast and statistically sound enough for seeds, fault
/// rates and image noise.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A float uniformly drawn from `[0, 1)`.
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// FNV-1a over several byte strings, each followed by a separator so that
/// `("ab", "c")` and `("a", "bc")` hash differently.
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xCBF2_9CE4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(&[0xFF]) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01B3);
        }
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix_is_reproducible_and_spread() {
        let a: Vec<u64> = {
            let mut rng = SplitMix64::new(7);
            (0..4).map(|_| rng.next_u64()).collect()
        };
        let mut rng = SplitMix64::new(7);
        assert_eq!(a, (0..4).map(|_| rng.next_u64()).collect::<Vec<_>>());
        assert_ne!(a[0], a[1]);
        let f = SplitMix64::new(1).next_f64();
        assert!((0.0..1.0).contains(&f));
    }

    #[test]
    fn fnv_separates_parts() {
        assert_ne!(fnv1a(&[b"ab", b"c"]), fnv1a(&[b"a", b"bc"]));
        assert_eq!(fnv1a(&[b"x"]), fnv1a(&[b"x"]));
    }
}
