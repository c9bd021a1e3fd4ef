//! Helpers shared by unit tests (compiled only for tests).

/// A small deterministic picker for randomised tests: each call returns a number below `n`
/// (which must be positive), from a linear congruential generator seeded with `seed`, so a
/// failure reproduces without an extra crate.
pub(crate) fn picker(seed: u64) -> impl FnMut(usize) -> usize {
    let mut state = seed;
    move |n: usize| {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 33) as usize % n
    }
}
