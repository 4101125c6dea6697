//! Numeric builtins: the tower of fixnums, bignums and flonums, with
//! overflow promoting to bignums (never wrapping).

use super::{arg, Prim, PrimKind::Fn as F};
use crate::heap::*;
use crate::numbers::Big;
use crate::reader::{parse_number, Datum};
use crate::value::*;
use crate::vm::Vm;
use std::cmp::Ordering;

/// A number unpacked for arithmetic.
#[derive(Clone, Debug)]
pub enum Num {
    Fix(i64),
    Big(Big),
    Flo(f64),
}

pub fn int(vm: &mut Vm, n: i64) -> R<Value> {
    if Value::fits_fix(n) {
        Ok(Value::fix(n))
    } else {
        let b = Big::from_i64(n);
        vm.h.bignum(&vm.r, b.neg, &b.mag)
    }
}

pub fn big_value(vm: &mut Vm, b: &Big) -> R<Value> {
    match b.to_i64() {
        Some(n) if Value::fits_fix(n) => Ok(Value::fix(n)),
        _ => vm.h.bignum(&vm.r, b.neg, &b.mag),
    }
}

pub fn num_of(vm: &Vm, who: &str, v: Value) -> R<Num> {
    if v.is_fix() {
        Ok(Num::Fix(v.fixval()))
    } else if v.is_flonum() {
        Ok(Num::Flo(flo(v)))
    } else if is_kind(v, Kind::Bignum) {
        Ok(Num::Big(big_of(v)))
    } else {
        Err(vm.type_err(who, "a number", v))
    }
}

pub fn is_number(v: Value) -> bool {
    v.is_fix() || v.is_flonum() || is_kind(v, Kind::Bignum)
}

fn to_f(n: &Num) -> f64 {
    match n {
        Num::Fix(x) => *x as f64,
        Num::Big(b) => b.to_f64(),
        Num::Flo(x) => *x,
    }
}

fn to_big(n: &Num) -> Big {
    match n {
        Num::Fix(x) => Big::from_i64(*x),
        Num::Big(b) => b.clone(),
        Num::Flo(x) => Big::from_f64(*x),
    }
}

pub fn num_value(vm: &mut Vm, n: Num) -> R<Value> {
    match n {
        Num::Fix(x) => int(vm, x),
        Num::Big(b) => big_value(vm, &b),
        Num::Flo(x) => vm.flonum(x),
    }
}

fn arith(vm: &mut Vm, who: &str, a: Value, b: Value, op: u8) -> R<Value> {
    let x = num_of(vm, who, a)?;
    let y = num_of(vm, who, b)?;
    let r = match (&x, &y) {
        (Num::Flo(_), _) | (_, Num::Flo(_)) => {
            let (p, q) = (to_f(&x), to_f(&y));
            Num::Flo(match op {
                0 => p + q,
                1 => p - q,
                _ => p * q,
            })
        }
        (Num::Fix(p), Num::Fix(q)) => {
            let r = match op {
                0 => p.checked_add(*q),
                1 => p.checked_sub(*q),
                _ => p.checked_mul(*q),
            };
            match r {
                Some(r) => Num::Fix(r),
                None => big_op(&x, &y, op),
            }
        }
        _ => big_op(&x, &y, op),
    };
    num_value(vm, r)
}

fn big_op(x: &Num, y: &Num, op: u8) -> Num {
    let (p, q) = (to_big(x), to_big(y));
    Num::Big(match op {
        0 => p.add(&q),
        1 => p.sub(&q),
        _ => p.mul(&q),
    })
}

pub fn add2(vm: &mut Vm, a: Value, b: Value) -> R<Value> {
    arith(vm, "+", a, b, 0)
}
pub fn sub2(vm: &mut Vm, a: Value, b: Value) -> R<Value> {
    arith(vm, "-", a, b, 1)
}
pub fn mul2(vm: &mut Vm, a: Value, b: Value) -> R<Value> {
    arith(vm, "*", a, b, 2)
}

pub fn compare(vm: &Vm, who: &str, a: Value, b: Value) -> R<Option<Ordering>> {
    let x = num_of(vm, who, a)?;
    let y = num_of(vm, who, b)?;
    // Exact against inexact compares exactly: converting the exact side to
    // a flonum would round it (or overflow to infinity).
    Ok(match (&x, &y) {
        (Num::Fix(p), Num::Fix(q)) => Some(p.cmp(q)),
        (Num::Flo(p), Num::Flo(q)) => p.partial_cmp(q),
        (Num::Flo(p), _) => to_big(&y).compare_f64(*p).map(Ordering::reverse),
        (_, Num::Flo(q)) => to_big(&x).compare_f64(*q),
        _ => Some(to_big(&x).compare(&to_big(&y))),
    })
}

fn fold(vm: &mut Vm, a: usize, n: usize, op: u8, who: &str) -> R<Value> {
    let mut acc = if n == 0 {
        return Ok(Value::fix(if op == 2 { 1 } else { 0 }));
    } else {
        arg(vm, a, 0)
    };
    if n == 1 {
        let x = num_of(vm, who, acc)?;
        if op == 1 {
            if let Num::Flo(x) = x {
                // Negation, not 0 - x: (- 0.0) is -0.0.
                return vm.flonum(-x);
            }
            return arith(vm, who, Value::fix(0), acc, 1);
        }
        return Ok(acc);
    }
    for i in 1..n {
        let b = arg(vm, a, i);
        // acc is rooted in the argument area: store it there while allocating.
        vm.r.stack[a] = acc;
        acc = arith(vm, who, acc, b, op)?;
    }
    Ok(acc)
}

fn p_add(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    fold(vm, a, n, 0, "+")
}
fn p_sub(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    fold(vm, a, n, 1, "-")
}
fn p_mul(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    fold(vm, a, n, 2, "*")
}

fn cmp_chain(vm: &mut Vm, a: usize, n: usize, who: &str, ok: fn(Ordering) -> bool) -> R<Value> {
    let mut res = true;
    for i in 0..n {
        num_of(vm, who, arg(vm, a, i))?;
    }
    for i in 1..n {
        match compare(vm, who, arg(vm, a, i - 1), arg(vm, a, i))? {
            Some(o) if ok(o) => {}
            _ => res = false,
        }
    }
    Ok(Value::bool(res))
}

fn p_numeq(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    cmp_chain(vm, a, n, "=", |o| o == Ordering::Equal)
}
fn p_lt(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    cmp_chain(vm, a, n, "<", |o| o == Ordering::Less)
}
fn p_gt(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    cmp_chain(vm, a, n, ">", |o| o == Ordering::Greater)
}
fn p_le(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    cmp_chain(vm, a, n, "<=", |o| o != Ordering::Greater)
}
fn p_ge(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    cmp_chain(vm, a, n, ">=", |o| o != Ordering::Less)
}

fn integer_of(vm: &Vm, who: &str, v: Value) -> R<Num> {
    match num_of(vm, who, v)? {
        Num::Flo(x) if x.fract() != 0.0 || !x.is_finite() => Err(vm.type_err(who, "an integer", v)),
        n => Ok(n),
    }
}

/// Integer division; `floor` selects floor semantics, else truncation.
fn idiv(vm: &mut Vm, who: &str, a: Value, b: Value, floor: bool) -> R<(Num, Num)> {
    let x = integer_of(vm, who, a)?;
    let y = integer_of(vm, who, b)?;
    let zero = match &y {
        Num::Fix(0) => true,
        Num::Flo(f) => *f == 0.0,
        Num::Big(b) => b.is_zero(),
        _ => false,
    };
    if zero {
        return Err(SErr::Msg(format!("{who}: division by zero")));
    }
    if let (Num::Flo(_), _) | (_, Num::Flo(_)) = (&x, &y) {
        let (p, q) = (to_f(&x), to_f(&y));
        let qt = if floor { (p / q).floor() } else { (p / q).trunc() };
        return Ok((Num::Flo(qt), Num::Flo(p - qt * q)));
    }
    if let (Num::Fix(p), Num::Fix(q)) = (&x, &y) {
        if let (Some(mut qt), Some(mut r)) = (p.checked_div(*q), p.checked_rem(*q)) {
            if floor && r != 0 && ((r < 0) != (*q < 0)) {
                qt -= 1;
                r += q;
            }
            return Ok((Num::Fix(qt), Num::Fix(r)));
        }
    }
    let (p, q) = (to_big(&x), to_big(&y));
    let (mut qt, mut r) = p.divrem(&q);
    if floor && !r.is_zero() && (r.neg != q.neg) {
        qt = qt.sub(&Big::from_i64(1));
        r = r.add(&q);
    }
    Ok((Num::Big(qt), Num::Big(r)))
}

fn p_quotient(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (q, _) = idiv(vm, "quotient", arg(vm, a, 0), arg(vm, a, 1), false)?;
    num_value(vm, q)
}
fn p_remainder(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (_, r) = idiv(vm, "remainder", arg(vm, a, 0), arg(vm, a, 1), false)?;
    num_value(vm, r)
}
fn p_modulo(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (_, r) = idiv(vm, "modulo", arg(vm, a, 0), arg(vm, a, 1), true)?;
    num_value(vm, r)
}
fn two(vm: &mut Vm, q: Num, r: Num) -> R<Value> {
    let q = num_value(vm, q)?;
    vm.r.tmp.push(q);
    let r = num_value(vm, r);
    let q = vm.r.tmp.pop().unwrap_or(UNSPEC);
    let r = r?;
    vm.make_obj(Kind::Values, &[q, r])
}
fn p_floor_div(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (q, r) = idiv(vm, "floor/", arg(vm, a, 0), arg(vm, a, 1), true)?;
    two(vm, q, r)
}
fn p_trunc_div(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (q, r) = idiv(vm, "truncate/", arg(vm, a, 0), arg(vm, a, 1), false)?;
    two(vm, q, r)
}
fn p_floor_quo(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (q, _) = idiv(vm, "floor-quotient", arg(vm, a, 0), arg(vm, a, 1), true)?;
    num_value(vm, q)
}

fn p_div(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let first = num_of(vm, "/", arg(vm, a, 0))?;
    if n == 1 {
        let x = to_f(&first);
        if let Num::Fix(1) | Num::Fix(-1) = first {
            return Ok(arg(vm, a, 0));
        }
        if x == 0.0 && !matches!(first, Num::Flo(_)) {
            return Err(SErr::Msg("/: division by zero".into()));
        }
        if let Num::Flo(x) = first {
            return vm.flonum(1.0 / x);
        }
        return vm.flonum(Big::from_i64(1).div_to_f64(&to_big(&first)));
    }
    let mut acc = first;
    for i in 1..n {
        let y = num_of(vm, "/", arg(vm, a, i))?;
        acc = match (&acc, &y) {
            (Num::Flo(_), _) | (_, Num::Flo(_)) => Num::Flo(to_f(&acc) / to_f(&y)),
            _ => {
                let (p, q) = (to_big(&acc), to_big(&y));
                if q.is_zero() {
                    return Err(SErr::Msg("/: division by zero".into()));
                }
                let (qt, r) = p.divrem(&q);
                if r.is_zero() {
                    Num::Big(qt)
                } else {
                    // No exact rationals: the correctly rounded quotient.
                    Num::Flo(p.div_to_f64(&q))
                }
            }
        };
    }
    num_value(vm, acc)
}

fn p_abs(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let r = match num_of(vm, "abs", arg(vm, a, 0))? {
        Num::Fix(x) => match x.checked_abs() {
            Some(y) => Num::Fix(y),
            None => {
                let mut b = Big::from_i64(x);
                b.neg = false;
                Num::Big(b)
            }
        },
        Num::Big(mut b) => {
            b.neg = false;
            Num::Big(b)
        }
        Num::Flo(x) => Num::Flo(x.abs()),
    };
    num_value(vm, r)
}

fn minmax(vm: &mut Vm, a: usize, n: usize, want: Ordering, who: &str) -> R<Value> {
    let mut best = arg(vm, a, 0);
    let mut inexact = best.is_flonum();
    num_of(vm, who, best)?;
    for i in 1..n {
        let x = arg(vm, a, i);
        inexact |= x.is_flonum();
        if compare(vm, who, x, best)? == Some(want) {
            best = x;
        }
    }
    if inexact && !best.is_flonum() {
        let f = to_f(&num_of(vm, who, best)?);
        return vm.flonum(f);
    }
    Ok(best)
}
fn p_min(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    minmax(vm, a, n, Ordering::Less, "min")
}
fn p_max(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    minmax(vm, a, n, Ordering::Greater, "max")
}

/// The arguments of `gcd`/`lcm` as exact integers, and whether any was
/// inexact (then so is the result).
fn int_args(vm: &Vm, who: &str, a: usize, n: usize) -> R<(Vec<Big>, bool)> {
    let mut inexact = false;
    let mut v = Vec::with_capacity(n);
    for i in 0..n {
        let x = integer_of(vm, who, arg(vm, a, i))?;
        inexact |= matches!(x, Num::Flo(_));
        let mut b = to_big(&x);
        b.neg = false;
        v.push(b);
    }
    Ok((v, inexact))
}

fn big_gcd(mut p: Big, mut q: Big) -> Big {
    while !q.is_zero() {
        let (_, r) = p.divrem(&q);
        (p, q) = (q, r);
    }
    p
}

fn int_result(vm: &mut Vm, b: Big, inexact: bool) -> R<Value> {
    if inexact {
        vm.flonum(b.to_f64())
    } else {
        num_value(vm, Num::Big(b))
    }
}

fn p_gcd(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let (v, inexact) = int_args(vm, "gcd", a, n)?;
    let g = v.into_iter().fold(Big::from_i64(0), big_gcd);
    int_result(vm, g, inexact)
}
fn p_lcm(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let (v, inexact) = int_args(vm, "lcm", a, n)?;
    let mut l = Big::from_i64(1);
    for x in v {
        if x.is_zero() {
            return int_result(vm, x, inexact);
        }
        let g = big_gcd(l.clone(), x.clone());
        l = l.divrem(&g).0.mul(&x);
    }
    int_result(vm, l, inexact)
}

fn pred(vm: &mut Vm, a: usize, f: fn(&Num) -> bool, who: &str) -> R<Value> {
    let n = num_of(vm, who, arg(vm, a, 0))?;
    Ok(Value::bool(f(&n)))
}

fn p_numberp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_number(arg(vm, a, 0))))
}
fn p_integerp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    Ok(Value::bool(
        v.is_fix() || is_kind(v, Kind::Bignum) || (v.is_flonum() && flo(v).fract() == 0.0 && flo(v).is_finite()),
    ))
}
fn p_exact_integerp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    Ok(Value::bool(v.is_fix() || is_kind(v, Kind::Bignum)))
}
fn p_exactp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let n = num_of(vm, "exact?", arg(vm, a, 0))?;
    Ok(Value::bool(!matches!(n, Num::Flo(_))))
}
fn p_inexactp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let n = num_of(vm, "inexact?", arg(vm, a, 0))?;
    Ok(Value::bool(matches!(n, Num::Flo(_))))
}
fn p_nanp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    pred(vm, a, |n| matches!(n, Num::Flo(x) if x.is_nan()), "nan?")
}
fn p_infinitep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    pred(vm, a, |n| matches!(n, Num::Flo(x) if x.is_infinite()), "infinite?")
}
fn p_finitep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    pred(vm, a, |n| !matches!(n, Num::Flo(x) if !x.is_finite()), "finite?")
}
fn sign(n: &Num) -> Ordering {
    match n {
        Num::Fix(x) => x.cmp(&0),
        Num::Big(b) => b.compare(&Big::from_i64(0)),
        Num::Flo(x) => x.partial_cmp(&0.0).unwrap_or(Ordering::Equal),
    }
}
fn p_zerop(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    pred(vm, a, |n| sign(n) == Ordering::Equal, "zero?")
}
fn p_positivep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    pred(vm, a, |n| sign(n) == Ordering::Greater, "positive?")
}
fn p_negativep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    pred(vm, a, |n| sign(n) == Ordering::Less, "negative?")
}
fn parity(vm: &mut Vm, a: usize, who: &str) -> R<bool> {
    Ok(match integer_of(vm, who, arg(vm, a, 0))? {
        Num::Fix(x) => x & 1 == 1,
        Num::Big(b) => b.mag.first().is_some_and(|l| l & 1 == 1),
        Num::Flo(x) => x % 2.0 != 0.0,
    })
}
fn p_oddp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(parity(vm, a, "odd?")?))
}
fn p_evenp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(!parity(vm, a, "even?")?))
}

fn p_exact(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    match num_of(vm, "exact", arg(vm, a, 0))? {
        Num::Flo(x) => {
            if !x.is_finite() {
                return Err(SErr::Msg(format!("exact: cannot convert {x} to an exact number")));
            }
            if x.fract() != 0.0 {
                // No exact rationals (docs/scheme.md): refuse rather than round.
                return Err(SErr::Msg(format!(
                    "exact: {x} has no exact integer value (exact rationals are not supported)"
                )));
            }
            num_value(vm, Num::Big(Big::from_f64(x)))
        }
        _ => Ok(arg(vm, a, 0)),
    }
}
fn p_inexact(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let n = num_of(vm, "inexact", arg(vm, a, 0))?;
    vm.flonum(to_f(&n))
}

fn float_op(vm: &mut Vm, a: usize, who: &str, f: fn(f64) -> f64, keep_exact: bool) -> R<Value> {
    let n = num_of(vm, who, arg(vm, a, 0))?;
    if keep_exact && !matches!(n, Num::Flo(_)) {
        return Ok(arg(vm, a, 0));
    }
    vm.flonum(f(to_f(&n)))
}
fn p_floor(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "floor", f64::floor, true)
}
fn p_ceiling(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "ceiling", f64::ceil, true)
}
fn p_truncate(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "truncate", f64::trunc, true)
}
fn p_round(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(
        vm,
        a,
        "round",
        |x| {
            let r = x.round();
            if (x - x.trunc()).abs() == 0.5 {
                2.0 * (x / 2.0).round()
            } else {
                r
            }
        },
        true,
    )
}
fn p_sqrt(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let n = num_of(vm, "sqrt", arg(vm, a, 0))?;
    if let Num::Fix(x) = n {
        if x >= 0 {
            let r = (x as f64).sqrt() as i64;
            for c in [r - 1, r, r + 1] {
                if c >= 0 && c.checked_mul(c) == Some(x) {
                    return Ok(Value::fix(c));
                }
            }
        }
    }
    vm.flonum(to_f(&n).sqrt())
}
fn p_exact_isqrt(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let x = match num_of(vm, "exact-integer-sqrt", arg(vm, a, 0))? {
        Num::Fix(x) if x >= 0 => x,
        _ => return Err(SErr::Msg("exact-integer-sqrt: expected a non-negative fixnum".into())),
    };
    let mut r = (x as f64).sqrt() as i64;
    while r * r > x {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= x {
        r += 1;
    }
    vm.make_obj(Kind::Values, &[Value::fix(r), Value::fix(x - r * r)])
}
fn p_exp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "exp", f64::exp, false)
}
fn p_log(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let x = to_f(&num_of(vm, "log", arg(vm, a, 0))?);
    if n == 2 {
        let b = to_f(&num_of(vm, "log", arg(vm, a, 1))?);
        return vm.flonum(x.ln() / b.ln());
    }
    vm.flonum(x.ln())
}
fn p_sin(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "sin", f64::sin, false)
}
fn p_cos(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "cos", f64::cos, false)
}
fn p_tan(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "tan", f64::tan, false)
}
fn p_asin(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "asin", f64::asin, false)
}
fn p_acos(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    float_op(vm, a, "acos", f64::acos, false)
}
fn p_atan(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let y = to_f(&num_of(vm, "atan", arg(vm, a, 0))?);
    if n == 2 {
        let x = to_f(&num_of(vm, "atan", arg(vm, a, 1))?);
        return vm.flonum(y.atan2(x));
    }
    vm.flonum(y.atan())
}
fn p_square(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let x = arg(vm, a, 0);
    mul2(vm, x, x)
}
fn p_expt(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let b = num_of(vm, "expt", arg(vm, a, 0))?;
    let e = num_of(vm, "expt", arg(vm, a, 1))?;
    match (&b, &e) {
        (Num::Fix(_) | Num::Big(_), Num::Fix(k)) if *k >= 0 => {
            let mut base = to_big(&b);
            // |b|^k has at least k * (bits(b) - 1) bits: refuse a result no
            // heap could hold before computing it (0, 1 and -1 stay small).
            let bits = base.bit_len() as u64;
            if bits > 1 {
                vm.check_request("expt", (*k as u64).saturating_mul(bits - 1) / 8, 1)?;
            }
            let mut result = Big::from_i64(1);
            let mut k = *k as u64;
            while k > 0 {
                if k & 1 == 1 {
                    result = result.mul(&base);
                }
                k >>= 1;
                if k > 0 {
                    base = base.mul(&base);
                }
            }
            num_value(vm, Num::Big(result))
        }
        _ => vm.flonum(to_f(&b).powf(to_f(&e))),
    }
}

pub fn number_to_string(vm: &Vm, v: Value, radix: u32) -> R<String> {
    Ok(match num_of(vm, "number->string", v)? {
        Num::Fix(x) => Big::from_i64(x).to_string_radix(radix),
        Num::Big(b) => b.to_string_radix(radix),
        Num::Flo(x) => crate::numbers::flo_to_string(x),
    })
}

/// A radix argument: an exact integer from 2 to 36.
fn radix_arg(vm: &Vm, who: &str, r: Value) -> R<u32> {
    match r.as_fix() {
        Some(r @ 2..=36) => Ok(r as u32),
        _ => Err(SErr::Msg(format!(
            "{who}: radix must be an exact integer from 2 to 36, got {}",
            vm.write_short(r, false)
        ))),
    }
}

fn p_number_to_string(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let radix = if n > 1 {
        radix_arg(vm, "number->string", arg(vm, a, 1))?
    } else {
        10
    };
    let s = number_to_string(vm, arg(vm, a, 0), radix)?;
    vm.string(&s)
}

fn p_string_to_number(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let s = arg(vm, a, 0);
    if !is_kind(s, Kind::String) {
        return Err(vm.type_err("string->number", "a string", s));
    }
    let radix = if n > 1 {
        radix_arg(vm, "string->number", arg(vm, a, 1))?
    } else {
        10
    };
    match parse_number(&string_of(s), radix) {
        Some(d @ (Datum::Int(_) | Datum::Big(_) | Datum::Flo(_))) => vm.datum_to_value(&d),
        _ => Ok(FALSE),
    }
}

pub const PRIMS: &[Prim] = &[
    Prim::new("+", 0, u16::MAX, F(p_add)),
    Prim::new("-", 1, u16::MAX, F(p_sub)),
    Prim::new("*", 0, u16::MAX, F(p_mul)),
    Prim::new("/", 1, u16::MAX, F(p_div)),
    Prim::new("=", 1, u16::MAX, F(p_numeq)),
    Prim::new("<", 1, u16::MAX, F(p_lt)),
    Prim::new(">", 1, u16::MAX, F(p_gt)),
    Prim::new("<=", 1, u16::MAX, F(p_le)),
    Prim::new(">=", 1, u16::MAX, F(p_ge)),
    Prim::new("quotient", 2, 2, F(p_quotient)),
    Prim::new("remainder", 2, 2, F(p_remainder)),
    Prim::new("modulo", 2, 2, F(p_modulo)),
    Prim::new("truncate-quotient", 2, 2, F(p_quotient)),
    Prim::new("truncate-remainder", 2, 2, F(p_remainder)),
    Prim::new("floor-remainder", 2, 2, F(p_modulo)),
    Prim::new("floor-quotient", 2, 2, F(p_floor_quo)),
    Prim::new("floor/", 2, 2, F(p_floor_div)),
    Prim::new("truncate/", 2, 2, F(p_trunc_div)),
    Prim::new("abs", 1, 1, F(p_abs)),
    Prim::new("magnitude", 1, 1, F(p_abs)),
    Prim::new("min", 1, u16::MAX, F(p_min)),
    Prim::new("max", 1, u16::MAX, F(p_max)),
    Prim::new("gcd", 0, u16::MAX, F(p_gcd)),
    Prim::new("lcm", 0, u16::MAX, F(p_lcm)),
    Prim::new("number?", 1, 1, F(p_numberp)),
    Prim::new("complex?", 1, 1, F(p_numberp)),
    Prim::new("real?", 1, 1, F(p_numberp)),
    Prim::new("rational?", 1, 1, F(p_numberp)),
    Prim::new("integer?", 1, 1, F(p_integerp)),
    Prim::new("exact-integer?", 1, 1, F(p_exact_integerp)),
    Prim::new("exact?", 1, 1, F(p_exactp)),
    Prim::new("inexact?", 1, 1, F(p_inexactp)),
    Prim::new("nan?", 1, 1, F(p_nanp)),
    Prim::new("infinite?", 1, 1, F(p_infinitep)),
    Prim::new("finite?", 1, 1, F(p_finitep)),
    Prim::new("zero?", 1, 1, F(p_zerop)),
    Prim::new("positive?", 1, 1, F(p_positivep)),
    Prim::new("negative?", 1, 1, F(p_negativep)),
    Prim::new("odd?", 1, 1, F(p_oddp)),
    Prim::new("even?", 1, 1, F(p_evenp)),
    Prim::new("exact", 1, 1, F(p_exact)),
    Prim::new("inexact", 1, 1, F(p_inexact)),
    Prim::new("exact->inexact", 1, 1, F(p_inexact)),
    Prim::new("inexact->exact", 1, 1, F(p_exact)),
    Prim::new("floor", 1, 1, F(p_floor)),
    Prim::new("ceiling", 1, 1, F(p_ceiling)),
    Prim::new("truncate", 1, 1, F(p_truncate)),
    Prim::new("round", 1, 1, F(p_round)),
    Prim::new("sqrt", 1, 1, F(p_sqrt)),
    Prim::new("exact-integer-sqrt", 1, 1, F(p_exact_isqrt)),
    Prim::new("exp", 1, 1, F(p_exp)),
    Prim::new("log", 1, 2, F(p_log)),
    Prim::new("sin", 1, 1, F(p_sin)),
    Prim::new("cos", 1, 1, F(p_cos)),
    Prim::new("tan", 1, 1, F(p_tan)),
    Prim::new("asin", 1, 1, F(p_asin)),
    Prim::new("acos", 1, 1, F(p_acos)),
    Prim::new("atan", 1, 2, F(p_atan)),
    Prim::new("square", 1, 1, F(p_square)),
    Prim::new("expt", 2, 2, F(p_expt)),
    Prim::new("number->string", 1, 2, F(p_number_to_string)),
    Prim::new("string->number", 1, 2, F(p_string_to_number)),
];
