//! Seeded randomness. Every random choice derives its own ChaCha stream from the run's seed
//! and a stable key (a domain name, a rival's name...), so adding a rival or a name does not
//! shift every other draw, and the processing order of events cannot change any outcome.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// FNV-1a: stable across Rust versions and platforms, unlike `std`'s hasher.
pub fn stable_hash(parts: &[&[u8]]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.iter().chain(std::iter::once(&0xffu8)) {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// splitmix64 finalizer: spreads similar keys over the whole seed space.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A random stream for one purpose (`parts`) under one run seed.
pub fn derive(seed: u64, parts: &[&[u8]]) -> ChaCha8Rng {
    ChaCha8Rng::seed_from_u64(mix(seed ^ mix(stable_hash(parts))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    #[test]
    fn same_key_same_stream_other_key_other_stream() {
        let a: u64 = derive(7, &[b"rival", b"x.com"]).random();
        let b: u64 = derive(7, &[b"rival", b"x.com"]).random();
        let c: u64 = derive(7, &[b"rival", b"y.com"]).random();
        let d: u64 = derive(8, &[b"rival", b"x.com"]).random();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_ne!(a, d);
    }

    #[test]
    fn part_boundaries_matter() {
        assert_ne!(stable_hash(&[b"ab", b"c"]), stable_hash(&[b"a", b"bc"]));
    }
}
