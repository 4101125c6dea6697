//! The one random generator of the tests and benchmark programs:
//! xorshift64* (Vigna), deterministic and seedable, with no dependency.
//! Each test or program that needs it includes this file as a module:
//! `#[path = "support/rng.rs"] mod rng;` (from tests/) or
//! `#[path = "../../tests/support/rng.rs"] mod rng;` (from benches/programs/).

// Each includer uses a part of it.
#![allow(dead_code)]

/// xorshift64*. The state must not be zero ([`Rng::new`] sees to that).
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    /// A generator for any seed (scrambled, and never the zero state).
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n` (`n > 0`; the modulo bias is negligible here).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// An index in `0..n` (`n > 0`).
    pub fn index(&mut self, n: usize) -> usize {
        self.below(n as u64) as usize
    }

    /// True with the given chance in percent.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}
