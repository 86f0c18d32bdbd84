//! Deterministic randomness keyed on what a draw is *about*, not on when it happens.
//!
//! A fault that fires with probability p, a latency jitter, a reply's length: each is drawn from
//! a hash of (seed, provider, request index, purpose). Two runs with the same seed and the same
//! request order make the same draws whatever the thread timing, and adding a draw for one
//! purpose never shifts the draws for another.

/// 64-bit FNV-1a, used to fold names into keys.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// SplitMix64 finaliser: a strong bijective mix of one 64-bit word.
pub fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A key for one draw, built from its parts.
#[derive(Clone, Copy, Debug)]
pub struct DrawKey(u64);

impl DrawKey {
    pub fn new(seed: u64) -> Self {
        DrawKey(mix(seed))
    }
    pub fn with(self, part: u64) -> Self {
        DrawKey(mix(self.0 ^ part))
    }
    pub fn with_str(self, part: &str) -> Self {
        self.with(fnv1a(part.as_bytes()))
    }
    pub fn bits(self) -> u64 {
        self.0
    }
    /// Uniform in [0, 1).
    pub fn unit(self) -> f64 {
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal draw (Box-Muller over two derived uniforms).
    pub fn normal(self) -> f64 {
        let u1 = self.with(1).unit().max(f64::MIN_POSITIVE);
        let u2 = self.with(2).unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unit_is_in_range_and_spread() {
        let k = DrawKey::new(7).with_str("openai");
        let draws: Vec<f64> = (0..10_000).map(|i| k.with(i).unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let below_half = draws.iter().filter(|u| **u < 0.5).count();
        assert!((4_700..5_300).contains(&below_half), "{below_half}");
    }

    #[test]
    fn same_parts_same_draw() {
        let a = DrawKey::new(1).with_str("p").with(5).unit();
        let b = DrawKey::new(1).with_str("p").with(5).unit();
        let c = DrawKey::new(2).with_str("p").with(5).unit();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}
