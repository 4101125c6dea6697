//! Numbers: a small base-2^32 bignum (add, sub, mul, divmod, compare,
//! to/from string) and the numeric tower used by the builtins: fixnums,
//! bignums (stored as no-scan heap objects) and flonums.

use std::cmp::Ordering;

/// An arbitrary-precision integer: sign and magnitude (little-endian u32
/// limbs, no trailing zeros; zero has no limbs and is never negative).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Big {
    pub neg: bool,
    pub mag: Vec<u32>,
}

fn trim(v: &mut Vec<u32>) {
    while v.last() == Some(&0) {
        v.pop();
    }
}

fn cmp_mag(a: &[u32], b: &[u32]) -> Ordering {
    if a.len() != b.len() {
        return a.len().cmp(&b.len());
    }
    for i in (0..a.len()).rev() {
        if a[i] != b[i] {
            return a[i].cmp(&b[i]);
        }
    }
    Ordering::Equal
}

fn add_mag(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (a, b) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    let mut out = Vec::with_capacity(a.len() + 1);
    let mut carry = 0u64;
    for (i, &x) in a.iter().enumerate() {
        let s = x as u64 + *b.get(i).unwrap_or(&0) as u64 + carry;
        out.push(s as u32);
        carry = s >> 32;
    }
    if carry > 0 {
        out.push(carry as u32);
    }
    out
}

/// a - b, requires |a| >= |b|.
fn sub_mag(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = Vec::with_capacity(a.len());
    let mut borrow = 0i64;
    for (i, &x) in a.iter().enumerate() {
        let mut d = x as i64 - *b.get(i).unwrap_or(&0) as i64 - borrow;
        if d < 0 {
            d += 1 << 32;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out.push(d as u32);
    }
    trim(&mut out);
    out
}

/// Operands at least this long (in limbs) multiply by Karatsuba's method.
const KARATSUBA_LIMBS: usize = 40;

/// `out[at..] += x` (out is long enough for the sum).
fn add_at(out: &mut [u32], x: &[u32], at: usize) {
    let mut carry = 0u64;
    let mut i = 0;
    while i < x.len() || carry > 0 {
        let s = out[at + i] as u64 + *x.get(i).unwrap_or(&0) as u64 + carry;
        out[at + i] = s as u32;
        carry = s >> 32;
        i += 1;
    }
}

/// The product of two magnitudes: schoolbook below [`KARATSUBA_LIMBS`],
/// Karatsuba above (O(n^1.585)), so `(expt 3 10000000)` takes seconds, not
/// minutes. A very unbalanced product is cut into pieces of the shorter
/// operand's length.
fn mul_mag(a: &[u32], b: &[u32]) -> Vec<u32> {
    let (a, b) = if a.len() >= b.len() { (a, b) } else { (b, a) };
    if b.is_empty() {
        return Vec::new();
    }
    if b.len() < KARATSUBA_LIMBS {
        return mul_school(a, b);
    }
    let mut out = vec![0u32; a.len() + b.len() + 1];
    if a.len() >= 2 * b.len() {
        for (k, piece) in a.chunks(b.len()).enumerate() {
            let p = mul_mag(piece, b);
            add_at(&mut out, &p, k * b.len());
        }
        trim(&mut out);
        return out;
    }
    let m = a.len() / 2;
    let (a0, a1) = a.split_at(m);
    let (b0, b1) = b.split_at(m.min(b.len()));
    let mut a0 = a0.to_vec();
    let mut b0 = b0.to_vec();
    trim(&mut a0);
    trim(&mut b0);
    let z0 = mul_mag(&a0, &b0);
    let z2 = mul_mag(a1, b1);
    let z1 = sub_mag(&sub_mag(&mul_mag(&add_mag(&a0, a1), &add_mag(&b0, b1)), &z0), &z2);
    add_at(&mut out, &z0, 0);
    add_at(&mut out, &z1, m);
    add_at(&mut out, &z2, 2 * m);
    trim(&mut out);
    out
}

fn mul_school(a: &[u32], b: &[u32]) -> Vec<u32> {
    let mut out = vec![0u32; a.len() + b.len()];
    for (i, &x) in a.iter().enumerate() {
        let mut carry = 0u64;
        for (j, &y) in b.iter().enumerate() {
            let t = x as u64 * y as u64 + out[i + j] as u64 + carry;
            out[i + j] = t as u32;
            carry = t >> 32;
        }
        let mut k = i + b.len();
        while carry > 0 {
            let t = out[k] as u64 + carry;
            out[k] = t as u32;
            carry = t >> 32;
            k += 1;
        }
    }
    trim(&mut out);
    out
}

/// The largest power of `radix` that fits a limb, and its exponent.
fn chunk_of(radix: u32) -> (u32, usize) {
    let mut chunk = radix;
    let mut per = 1;
    while let Some(c) = chunk.checked_mul(radix) {
        chunk = c;
        per += 1;
    }
    (chunk, per)
}

/// Divides by a small divisor, returning (quotient, remainder).
fn divmod_small(a: &[u32], d: u32) -> (Vec<u32>, u32) {
    let mut q = vec![0u32; a.len()];
    let mut r = 0u64;
    for i in (0..a.len()).rev() {
        let cur = (r << 32) | a[i] as u64;
        q[i] = (cur / d as u64) as u32;
        r = cur % d as u64;
    }
    trim(&mut q);
    (q, r as u32)
}

fn shl1(v: &mut Vec<u32>, bit: u32) {
    let mut carry = bit;
    for x in v.iter_mut() {
        let n = (*x >> 31) & 1;
        *x = (*x << 1) | carry;
        carry = n;
    }
    if carry != 0 {
        v.push(carry);
    }
}

/// Magnitude division by shift-and-subtract (simple; fine for the sizes
/// Scheme programs here use).
fn divmod_mag(a: &[u32], b: &[u32]) -> (Vec<u32>, Vec<u32>) {
    if b.len() == 1 {
        let (q, r) = divmod_small(a, b[0]);
        let mut r = vec![r];
        trim(&mut r);
        return (q, r);
    }
    if cmp_mag(a, b) == Ordering::Less {
        return (vec![], a.to_vec());
    }
    let mut q = vec![0u32; a.len()];
    let mut r: Vec<u32> = Vec::new();
    for i in (0..a.len() * 32).rev() {
        let bit = (a[i / 32] >> (i % 32)) & 1;
        shl1(&mut r, bit);
        trim(&mut r);
        if cmp_mag(&r, b) != Ordering::Less {
            r = sub_mag(&r, b);
            q[i / 32] |= 1 << (i % 32);
        }
    }
    trim(&mut q);
    (q, r)
}

impl Big {
    pub fn from_i64(n: i64) -> Big {
        let neg = n < 0;
        let mut m = n.unsigned_abs();
        let mut mag = Vec::new();
        while m > 0 {
            mag.push(m as u32);
            m >>= 32;
        }
        Big { neg, mag }
    }

    fn mk(neg: bool, mut mag: Vec<u32>) -> Big {
        trim(&mut mag);
        let neg = neg && !mag.is_empty();
        Big { neg, mag }
    }

    /// The value as an i64 if it fits.
    pub fn to_i64(&self) -> Option<i64> {
        if self.mag.len() > 2 {
            return None;
        }
        let mut m: u64 = 0;
        for (i, &l) in self.mag.iter().enumerate() {
            m |= (l as u64) << (32 * i);
        }
        if self.neg {
            if m <= i64::MAX as u64 + 1 {
                Some((m as i64).wrapping_neg())
            } else {
                None
            }
        } else if m <= i64::MAX as u64 {
            Some(m as i64)
        } else {
            None
        }
    }

    /// The number of bits of the magnitude (0 for zero).
    pub fn bit_len(&self) -> usize {
        match self.mag.last() {
            Some(&top) => self.mag.len() * 32 - top.leading_zeros() as usize,
            None => 0,
        }
    }

    /// The magnitude's bits `lo .. lo + 64` as a u64.
    fn bits64(&self, lo: usize) -> u64 {
        let mut r: u64 = 0;
        for k in 0..3 {
            let limb = lo / 32 + k;
            let Some(&l) = self.mag.get(limb) else { break };
            let shift = (limb * 32) as isize - lo as isize;
            if shift >= 0 {
                if shift < 64 {
                    r |= (l as u64) << shift;
                }
            } else {
                r |= (l as u64) >> (-shift);
            }
        }
        r
    }

    /// The nearest flonum (round half to even), or an infinity.
    pub fn to_f64(&self) -> f64 {
        let n = self.bit_len();
        let x = if n <= 64 {
            self.bits64(0) as f64
        } else {
            // The top 64 bits, with every bit below them folded into the
            // lowest one (a sticky bit): 64 > 53 + 2, so rounding this u64
            // to 53 bits rounds exactly as the whole number would.
            let lo = n - 64;
            let mut top = self.bits64(lo);
            let below = (0..lo / 32).any(|i| self.mag[i] != 0)
                || (!lo.is_multiple_of(32) && self.mag[lo / 32] & ((1u32 << (lo % 32)) - 1) != 0);
            if below {
                top |= 1;
            }
            let e = i32::try_from(lo).unwrap_or(i32::MAX).min(2000);
            top as f64 * 2f64.powi(e)
        };
        if self.neg {
            -x
        } else {
            x
        }
    }

    pub fn from_f64(x: f64) -> Big {
        let neg = x < 0.0;
        let mut m = x.abs().trunc();
        let mut mag = Vec::new();
        while m >= 1.0 {
            let r = m % 4294967296.0;
            mag.push(r as u32);
            m = ((m - r) / 4294967296.0).trunc();
        }
        Big::mk(neg, mag)
    }

    /// `self * 2^bits`.
    pub fn shl(&self, bits: usize) -> Big {
        if self.mag.is_empty() {
            return self.clone();
        }
        let (limbs, sh) = (bits / 32, bits % 32);
        let mut mag = vec![0u32; limbs];
        let mut carry = 0u32;
        for &l in &self.mag {
            if sh == 0 {
                mag.push(l);
            } else {
                mag.push((l << sh) | carry);
                carry = l >> (32 - sh);
            }
        }
        if carry != 0 {
            mag.push(carry);
        }
        Big::mk(self.neg, mag)
    }

    /// `self / o` as the nearest flonum (o non-zero): the quotient is taken
    /// to 66 significant bits plus a sticky bit for the remainder, then
    /// rounded once, so two huge integers whose flonums would overflow
    /// still divide correctly.
    pub fn div_to_f64(&self, o: &Big) -> f64 {
        let s = 66 + o.bit_len() as i64 - self.bit_len() as i64;
        let (num, den) = if s >= 0 {
            (self.shl(s as usize), o.clone())
        } else {
            (self.clone(), o.shl((-s) as usize))
        };
        let (mut q, r) = num.divrem(&den);
        if !r.is_zero() {
            // The quotient has at least 65 bits: its lowest is a sticky bit.
            if let Some(l) = q.mag.first_mut() {
                *l |= 1;
            }
        }
        ldexp(q.to_f64(), -s)
    }

    /// Compares with a flonum exactly (None for a NaN).
    pub fn compare_f64(&self, x: f64) -> Option<Ordering> {
        if x.is_nan() {
            return None;
        }
        if x.is_infinite() {
            return Some(if x > 0.0 { Ordering::Less } else { Ordering::Greater });
        }
        let fl = x.floor();
        let c = self.compare(&Big::from_f64(fl));
        Some(if fl == x || c == Ordering::Greater {
            c
        } else {
            Ordering::Less
        })
    }

    pub fn is_zero(&self) -> bool {
        self.mag.is_empty()
    }

    pub fn add(&self, o: &Big) -> Big {
        if self.neg == o.neg {
            Big::mk(self.neg, add_mag(&self.mag, &o.mag))
        } else if cmp_mag(&self.mag, &o.mag) != Ordering::Less {
            Big::mk(self.neg, sub_mag(&self.mag, &o.mag))
        } else {
            Big::mk(o.neg, sub_mag(&o.mag, &self.mag))
        }
    }

    pub fn neg(&self) -> Big {
        Big::mk(!self.neg, self.mag.clone())
    }

    pub fn sub(&self, o: &Big) -> Big {
        self.add(&o.neg())
    }

    pub fn mul(&self, o: &Big) -> Big {
        Big::mk(self.neg != o.neg, mul_mag(&self.mag, &o.mag))
    }

    /// Truncating division: (quotient, remainder), remainder has the sign of self.
    /// The caller checks that `o` is not zero.
    pub fn divrem(&self, o: &Big) -> (Big, Big) {
        let (q, r) = divmod_mag(&self.mag, &o.mag);
        (Big::mk(self.neg != o.neg, q), Big::mk(self.neg, r))
    }

    pub fn compare(&self, o: &Big) -> Ordering {
        match (self.neg, o.neg) {
            (false, true) => Ordering::Greater,
            (true, false) => Ordering::Less,
            (false, false) => cmp_mag(&self.mag, &o.mag),
            (true, true) => cmp_mag(&o.mag, &self.mag),
        }
    }

    pub fn to_string_radix(&self, radix: u32) -> String {
        if self.mag.is_empty() {
            return "0".into();
        }
        // Divide by the largest power of the radix that fits a limb, so
        // each pass over the number yields several digits (9 in base 10).
        let (chunk, per) = chunk_of(radix);
        let mut digits = Vec::new();
        let mut m = self.mag.clone();
        while !m.is_empty() {
            let (q, mut r) = divmod_small(&m, chunk);
            m = q;
            for _ in 0..per {
                if m.is_empty() && r == 0 {
                    break;
                }
                digits.push(std::char::from_digit(r % radix, radix).unwrap_or('?'));
                r /= radix;
            }
        }
        if self.neg {
            digits.push('-');
        }
        digits.iter().rev().collect()
    }

    pub fn parse(s: &str, radix: u32) -> Option<Big> {
        let (neg, digits) = match s.as_bytes().first() {
            Some(b'-') => (true, &s[1..]),
            Some(b'+') => (false, &s[1..]),
            _ => (false, s),
        };
        if digits.is_empty() {
            return None;
        }
        // Several digits per pass over the number, as in `to_string_radix`.
        let (_, per) = chunk_of(radix);
        let chars: Vec<char> = digits.chars().collect();
        let mut mag: Vec<u32> = Vec::new();
        for group in chars.chunks(per) {
            let mut d: u64 = 0;
            let mut scale: u64 = 1;
            for &c in group {
                d = d * radix as u64 + c.to_digit(radix)? as u64;
                scale *= radix as u64;
            }
            // mag = mag * scale + d
            let mut carry = d;
            for x in mag.iter_mut() {
                let t = *x as u64 * scale + carry;
                *x = t as u32;
                carry = t >> 32;
            }
            if carry > 0 {
                mag.push(carry as u32);
            }
        }
        Some(Big::mk(neg, mag))
    }
}

/// `x * 2^e` without overflowing or underflowing on the way.
pub fn ldexp(mut x: f64, mut e: i64) -> f64 {
    while e > 1000 && x.is_finite() && x != 0.0 {
        x *= 2f64.powi(1000);
        e -= 1000;
    }
    while e < -1000 && x != 0.0 {
        x *= 2f64.powi(-1000);
        e += 1000;
    }
    x * 2f64.powi(e as i32)
}

/// Formats a flonum the way Scheme writes it (`1.0`, `0.5`, `+inf.0`, `1e+100`).
pub fn flo_to_string(x: f64) -> String {
    if x.is_nan() {
        return "+nan.0".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "+inf.0".into() } else { "-inf.0".into() };
    }
    format!("{x:?}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bignum_roundtrip_and_arith() {
        let a = Big::parse("123456789012345678901234567890", 10).unwrap();
        assert_eq!(a.to_string_radix(10), "123456789012345678901234567890");
        let b = Big::parse("-987654321098765432109876543210", 10).unwrap();
        assert_eq!(a.add(&b).to_string_radix(10), "-864197532086419753208641975320");
        assert_eq!(
            a.mul(&b).to_string_radix(10),
            "-121932631137021795226185032733622923332237463801111263526900"
        );
        let (q, r) = b.divrem(&a);
        assert_eq!(q.to_string_radix(10), "-8");
        assert_eq!(r.to_string_radix(10), "-9000000000900000000090");
        assert_eq!(Big::from_i64(i64::MIN).to_i64(), Some(i64::MIN));
        assert_eq!(Big::from_i64(-5).to_string_radix(10), "-5");
        assert_eq!(Big::parse("ff", 16).unwrap().to_i64(), Some(255));
        assert_eq!(a.sub(&a).to_string_radix(10), "0");
    }

    /// A reproducible pseudo-random magnitude of `n` limbs (splitmix64).
    fn limbs(n: usize, seed: u64) -> Vec<u32> {
        let mut x = seed;
        let mut v: Vec<u32> = (0..n)
            .map(|_| {
                x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let mut z = x;
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                (z ^ (z >> 31)) as u32
            })
            .collect();
        trim(&mut v);
        v
    }

    #[test]
    fn karatsuba_agrees_with_schoolbook() {
        for (i, &(n, m)) in [
            (40, 40),
            (41, 77),
            (100, 100),
            (333, 200),
            (1000, 30),
            (257, 129),
            (600, 45),
        ]
        .iter()
        .enumerate()
        {
            let a = limbs(n, i as u64 * 2 + 1);
            let b = limbs(m, i as u64 * 2 + 2);
            let mut school = mul_school(&a, &b);
            trim(&mut school);
            assert_eq!(mul_mag(&a, &b), school, "{n} x {m} limbs");
        }
        // Operands with zero limbs in their low halves.
        let mut a = vec![0u32; 60];
        a.push(7);
        let b = limbs(90, 9);
        let mut school = mul_school(&a, &b);
        trim(&mut school);
        assert_eq!(mul_mag(&a, &b), school);
    }

    #[test]
    fn conversion_round_trips_in_every_radix() {
        let x = Big::mk(true, limbs(50, 3));
        for radix in 2..=36 {
            let text = x.to_string_radix(radix);
            assert_eq!(Big::parse(&text, radix).unwrap(), x, "radix {radix}");
        }
        // Digit groups with inner zeros and exact powers of the chunk.
        let t = "1000000000000000000000000000000000000001000000000";
        assert_eq!(Big::parse(t, 10).unwrap().to_string_radix(10), t);
        assert_eq!(Big::parse("1000000000", 10).unwrap().to_i64(), Some(1_000_000_000));
        assert_eq!(Big::from_i64(4294967296).to_string_radix(16), "100000000");
    }

    #[test]
    fn flonum_conversion_rounds_correctly() {
        let two = |k: usize| Big::from_i64(1).shl(k);
        // 2^53 + 1 is a tie: rounds to even (2^53).
        assert_eq!(two(53).add(&Big::from_i64(1)).to_f64(), 9007199254740992.0);
        // 2^100 + 2^47 is a tie too, 2^100 + 2^47 + 1 is above it.
        let tie = two(100).add(&two(47));
        assert_eq!(tie.to_f64(), 1.2676506002282294e30);
        assert_eq!(tie.add(&Big::from_i64(1)).to_f64(), 1.2676506002282297e30);
        assert_eq!(two(1024).to_f64(), f64::INFINITY);
        assert_eq!(two(1023).neg().to_f64(), -(2f64.powi(1023)));
        let ten = |k: u32| Big::parse(&format!("1{}", "0".repeat(k as usize)), 10).unwrap();
        assert_eq!(ten(400).add(&Big::from_i64(1)).div_to_f64(&ten(399)), 10.0);
        assert_eq!(Big::from_i64(1).div_to_f64(&Big::from_i64(3)), 1.0 / 3.0);
        assert_eq!(ten(400).compare_f64(f64::INFINITY), Some(Ordering::Less));
        assert_eq!(ten(400).compare_f64(f64::NAN), None);
        assert_eq!(Big::from_i64(-2).compare_f64(-1.5), Some(Ordering::Less));
        assert_eq!(Big::from_i64(2).compare_f64(1.5), Some(Ordering::Greater));
    }

    #[test]
    fn flonum_format() {
        assert_eq!(flo_to_string(1.0), "1.0");
        assert_eq!(flo_to_string(0.5), "0.5");
        assert_eq!(flo_to_string(f64::INFINITY), "+inf.0");
        assert_eq!(flo_to_string(1e100), "1e100");
    }
}
