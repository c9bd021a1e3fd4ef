//! Helpers shared by unit tests (compiled only for tests).

/// One step of the linear congruential generator behind every helper here (Knuth's MMIX
/// constants): deterministic, so a randomised test's failure reproduces from its seed without
/// an extra crate.
fn step(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state
}

/// A deterministic picker for randomised tests: each call returns a number below `n` (which
/// must be positive), from a generator seeded with `seed`.
pub(crate) fn picker(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    // The high bits only: an LCG's low bits repeat with short periods (the lowest alternates).
    move |n: usize| (step(&mut state) >> 33) as usize % n
}

/// Deterministic 64-bit words for tests that need whole bit patterns (e.g. every `f64`), from
/// a generator seeded with `seed`.
pub(crate) fn words(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed;
    // The high halves of two steps, for the same reason `picker` drops the low bits.
    move || (step(&mut state) & 0xFFFF_FFFF_0000_0000) | (step(&mut state) >> 32)
}

/// A corpus row with only its text and label, as the evaluation and fuzzy tests build them.
pub(crate) fn row(text: &str, label: crate::domain::Label) -> crate::corpus::LabelledComment {
    crate::corpus::LabelledComment {
        id: None,
        author: None,
        text: text.into(),
        label,
        source: None,
    }
}

mod tests {
    use super::*;

    #[test]
    fn a_seed_fixes_the_sequence() {
        let (mut a, mut b) = (picker(3), picker(3));
        let draws: Vec<usize> = (0..100).map(|_| a(1000)).collect();
        assert_eq!(draws, (0..100).map(|_| b(1000)).collect::<Vec<_>>());
        assert!(draws.iter().all(|&d| d < 1000));
        let mut other = picker(4);
        assert_ne!(draws, (0..100).map(|_| other(1000)).collect::<Vec<_>>());
    }

    #[test]
    fn words_fill_every_bit() {
        let mut next = words(7);
        let (mut ones, mut zeros) = (0u64, 0u64);
        for _ in 0..64 {
            let w = next();
            ones |= w;
            zeros |= !w;
        }
        assert_eq!(
            (ones, zeros),
            (u64::MAX, u64::MAX),
            "each bit is seen both ways"
        );
        // The low bit does not simply alternate, as the generator's own low bit does.
        let low: Vec<u64> = (0..64).map(|_| next() & 1).collect();
        assert!(low.windows(2).any(|w| w[0] == w[1]), "{low:?}");
    }
}
