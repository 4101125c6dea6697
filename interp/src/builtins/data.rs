//! Data builtins: equivalence, pairs and lists, symbols, characters,
//! strings, vectors and bytevectors.

use super::{arg, Prim, PrimKind::Fn as F};
use crate::heap::*;
use crate::value::*;
use crate::vm::Vm;

pub fn eqv(a: Value, b: Value) -> bool {
    if a == b {
        return true;
    }
    if a.is_flonum() && b.is_flonum() {
        return flo(a).to_bits() == flo(b).to_bits();
    }
    if is_kind(a, Kind::Bignum) && is_kind(b, Kind::Bignum) {
        return big_of(a) == big_of(b);
    }
    if is_kind(a, Kind::String) && is_kind(b, Kind::String) && len(a) == 0 && len(b) == 0 {
        return false;
    }
    false
}

/// Structural equality, iterative over an explicit work list. It
/// terminates on circular structure (R7RS requires it): after a first
/// stretch of plain comparison, every pair of compound objects compared is
/// remembered, and meeting the same pair again is taken as equal (either it
/// is being compared further up the same cycle, or it was compared already
/// and any difference below it is still on the work list).
pub fn equal(a: Value, b: Value) -> bool {
    const PLAIN_STEPS: usize = 10_000;
    let mut work = vec![(a, b)];
    let mut steps = 0usize;
    let mut seen: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
    while let Some((x, y)) = work.pop() {
        if eqv(x, y) {
            continue;
        }
        steps += 1;
        if steps > PLAIN_STEPS && (x.is_pair() || x.is_obj()) && !seen.insert((x.raw(), y.raw())) {
            continue;
        }
        if x.is_pair() && y.is_pair() {
            work.push((cdr(x), cdr(y)));
            work.push((car(x), car(y)));
            continue;
        }
        match (kind(x), kind(y)) {
            (Some(Kind::String), Some(Kind::String)) | (Some(Kind::Bytevector), Some(Kind::Bytevector)) => {
                if len(x) != len(y) || bytes(x) != bytes(y) {
                    return false;
                }
            }
            (Some(Kind::Vector), Some(Kind::Vector)) => {
                if len(x) != len(y) {
                    return false;
                }
                for i in 0..len(x) {
                    work.push((slot(x, i), slot(y, i)));
                }
            }
            _ => return false,
        }
    }
    true
}

fn p_eq(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(arg(vm, a, 0) == arg(vm, a, 1)))
}
fn p_eqv(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(eqv(arg(vm, a, 0), arg(vm, a, 1))))
}
fn p_equal(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(equal(arg(vm, a, 0), arg(vm, a, 1))))
}
fn p_not(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(arg(vm, a, 0) == FALSE))
}
fn p_booleanp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    Ok(Value::bool(v == TRUE || v == FALSE))
}
fn p_procedurep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    Ok(Value::bool(
        v.is_prim()
            || matches!(
                kind(v),
                Some(Kind::Closure | Kind::Cont | Kind::CaseLambda | Kind::Param)
            ),
    ))
}

// ---------------------------------------------------------------- pairs

fn want_pair(vm: &Vm, who: &str, v: Value) -> R<Value> {
    if v.is_pair() {
        Ok(v)
    } else {
        Err(vm.type_err(who, "a pair", v))
    }
}

fn p_cons(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (x, y) = (arg(vm, a, 0), arg(vm, a, 1));
    vm.h.pair(&vm.r, x, y)
}
fn p_car(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(car(want_pair(vm, "car", arg(vm, a, 0))?))
}
fn p_cdr(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(cdr(want_pair(vm, "cdr", arg(vm, a, 0))?))
}
fn p_set_car(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let p = want_pair(vm, "set-car!", arg(vm, a, 0))?;
    vm.h.set_car(p, arg(vm, a, 1));
    Ok(UNSPEC)
}
fn p_set_cdr(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let p = want_pair(vm, "set-cdr!", arg(vm, a, 0))?;
    vm.h.set_cdr(p, arg(vm, a, 1));
    Ok(UNSPEC)
}

/// c[ad]+r: the path is applied right to left.
fn cxr(vm: &Vm, name: &str, v: Value) -> R<Value> {
    let path = &name[1..name.len() - 1];
    let mut x = v;
    for c in path.chars().rev() {
        if !x.is_pair() {
            return Err(vm.type_err(name, "a pair", v));
        }
        x = if c == 'a' { car(x) } else { cdr(x) };
    }
    Ok(x)
}

macro_rules! cxrs {
    ($($f:ident $n:literal),*) => {
        $(fn $f(vm: &mut Vm, a: usize, _: usize) -> R<Value> { cxr(vm, $n, arg(vm, a, 0)) })*
    };
}
cxrs!(caar "caar", cadr "cadr", cdar "cdar", cddr "cddr", caaar "caaar", caadr "caadr", cadar "cadar",
      caddr "caddr", cdaar "cdaar", cdadr "cdadr", cddar "cddar", cdddr "cdddr", cadddr "cadddr", cddddr "cddddr");
cxrs!(caaaar "caaaar", caaadr "caaadr", caadar "caadar", caaddr "caaddr", cadaar "cadaar", cadadr "cadadr", caddar "caddar", cdaaar "cdaaar", cdaadr "cdaadr", cdadar "cdadar", cdaddr "cdaddr", cddaar "cddaar", cddadr "cddadr", cdddar "cdddar");

fn p_pairp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(arg(vm, a, 0).is_pair()))
}
fn p_nullp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(arg(vm, a, 0) == NIL))
}

/// Length of a proper list, or None.
pub fn list_len(mut v: Value) -> Option<usize> {
    let mut n = 0;
    let mut slow = v;
    while v.is_pair() {
        v = cdr(v);
        n += 1;
        if n % 2 == 0 {
            slow = cdr(slow);
            if slow == v && v.is_pair() {
                return None;
            }
        }
    }
    (v == NIL).then_some(n)
}

/// The elements of a proper list.
pub fn list_items(vm: &Vm, who: &str, v: Value) -> R<Vec<Value>> {
    let mut out = Vec::new();
    let mut w = Walk::new(v);
    while let Some(p) = w.next_pair().map_err(|_| circular(who))? {
        out.push(car(p));
    }
    if w.tail() != NIL {
        return Err(vm.type_err(who, "a proper list", v));
    }
    Ok(out)
}

/// A case mapping's result when it is one character: `#\ß` upcases to
/// "SS", which no character is, so `char-upcase` leaves it alone.
fn single(mut it: impl Iterator<Item = char>) -> Option<char> {
    let c = it.next()?;
    it.next().is_none().then_some(c)
}

fn p_listp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(list_len(arg(vm, a, 0)).is_some()))
}
fn p_list(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let vals: Vec<Value> = vm.r.stack[a..a + n].to_vec();
    vm.list(&vals)
}
fn p_length(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    match list_len(arg(vm, a, 0)) {
        Some(n) => Ok(Value::fix(n as i64)),
        None => Err(vm.type_err("length", "a proper list", arg(vm, a, 0))),
    }
}
/// Builds a list of `items` ending in `tail` (all rooted by the caller's stack).
fn list_onto(vm: &mut Vm, items: &[Value], tail: Value) -> R<Value> {
    let mark = vm.r.tmp.len();
    vm.r.tmp.extend_from_slice(items);
    vm.r.tmp.push(tail);
    let acc_i = vm.r.tmp.len() - 1;
    for i in (0..items.len()).rev() {
        let x = vm.r.tmp[mark + i];
        let acc = vm.r.tmp[acc_i];
        match vm.h.pair(&vm.r, x, acc) {
            Ok(p) => vm.r.tmp[acc_i] = p,
            Err(e) => {
                vm.r.tmp.truncate(mark);
                return Err(e);
            }
        }
    }
    let r = vm.r.tmp[acc_i];
    vm.r.tmp.truncate(mark);
    Ok(r)
}
fn p_append(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    if n == 0 {
        return Ok(NIL);
    }
    let mut acc = arg(vm, a, n - 1);
    for i in (0..n - 1).rev() {
        let items = list_items(vm, "append", arg(vm, a, i))?;
        vm.r.stack[a + n - 1] = acc;
        acc = list_onto(vm, &items, acc)?;
    }
    Ok(acc)
}
fn p_reverse(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let mut items = list_items(vm, "reverse", arg(vm, a, 0))?;
    items.reverse();
    list_onto(vm, &items, NIL)
}
fn p_list_tail(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let mut x = arg(vm, a, 0);
    let k = arg(vm, a, 1)
        .as_fix()
        .ok_or_else(|| vm.type_err("list-tail", "an index", arg(vm, a, 1)))?;
    for _ in 0..k {
        if !x.is_pair() {
            return Err(SErr::Msg(format!("list-tail: index {k} out of range")));
        }
        x = cdr(x);
    }
    Ok(x)
}
fn p_list_ref(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let mut x = arg(vm, a, 0);
    let k = arg(vm, a, 1)
        .as_fix()
        .ok_or_else(|| vm.type_err("list-ref", "an index", arg(vm, a, 1)))?;
    for _ in 0..k {
        if !x.is_pair() {
            break;
        }
        x = cdr(x);
    }
    if !x.is_pair() || k < 0 {
        return Err(SErr::Msg(format!("list-ref: index {k} out of range")));
    }
    Ok(car(x))
}
fn mem(vm: &mut Vm, a: usize, f: fn(Value, Value) -> bool) -> R<Value> {
    let k = arg(vm, a, 0);
    let mut w = Walk::new(arg(vm, a, 1));
    while let Some(x) = w.next_pair().map_err(|_| circular("member"))? {
        if f(k, car(x)) {
            return Ok(x);
        }
    }
    Ok(FALSE)
}
fn ass(vm: &mut Vm, a: usize, f: fn(Value, Value) -> bool) -> R<Value> {
    let k = arg(vm, a, 0);
    let mut w = Walk::new(arg(vm, a, 1));
    while let Some(x) = w.next_pair().map_err(|_| circular("assoc"))? {
        let e = car(x);
        if e.is_pair() && f(k, car(e)) {
            return Ok(e);
        }
    }
    Ok(FALSE)
}
fn p_memq(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    mem(vm, a, |x, y| x == y)
}
fn p_memv(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    mem(vm, a, eqv)
}
fn p_member(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    mem(vm, a, equal)
}
fn p_assq(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    ass(vm, a, |x, y| x == y)
}
fn p_assv(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    ass(vm, a, eqv)
}
fn p_assoc(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    ass(vm, a, equal)
}
fn p_list_copy(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let mut items = Vec::new();
    let mut w = Walk::new(arg(vm, a, 0));
    while let Some(p) = w.next_pair().map_err(|_| circular("list-copy"))? {
        items.push(car(p));
    }
    list_onto(vm, &items, w.tail())
}
fn p_make_list(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let k = arg(vm, a, 0)
        .as_fix()
        .filter(|k| *k >= 0)
        .ok_or_else(|| vm.type_err("make-list", "a length", arg(vm, a, 0)))?;
    let fill = if n > 1 { arg(vm, a, 1) } else { UNSPEC };
    vm.check_request("make-list", k as u64, 16)?;
    let items = vec![fill; k as usize];
    list_onto(vm, &items, NIL)
}
fn p_last_pair(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let mut x = want_pair(vm, "last-pair", arg(vm, a, 0))?;
    while cdr(x).is_pair() {
        x = cdr(x);
    }
    Ok(x)
}

// ---------------------------------------------------------------- symbols

fn want_string(vm: &Vm, who: &str, v: Value) -> R<Value> {
    if is_kind(v, Kind::String) {
        Ok(v)
    } else {
        Err(vm.type_err(who, "a string", v))
    }
}
fn p_symbolp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Symbol)))
}
fn p_symbol_to_string(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = arg(vm, a, 0);
    if !is_kind(s, Kind::Symbol) {
        return Err(vm.type_err("symbol->string", "a symbol", s));
    }
    let name = sym_name(s).to_string();
    vm.string(&name)
}
fn p_string_to_symbol(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = want_string(vm, "string->symbol", arg(vm, a, 0))?;
    let name = string_of(s);
    vm.intern(&name)
}
fn p_symbol_eq(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let x = arg(vm, a, 0);
    Ok(Value::bool((1..n).all(|i| arg(vm, a, i) == x)))
}

// ---------------------------------------------------------------- chars

fn want_char(vm: &Vm, who: &str, v: Value) -> R<char> {
    v.as_char().ok_or_else(|| vm.type_err(who, "a character", v))
}
fn p_charp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(arg(vm, a, 0).is_char()))
}
fn p_char_to_integer(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::fix(want_char(vm, "char->integer", arg(vm, a, 0))? as i64))
}
fn p_integer_to_char(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let n = arg(vm, a, 0);
    match n.as_fix().and_then(|n| u32::try_from(n).ok()).and_then(char::from_u32) {
        Some(c) => Ok(Value::chr(c)),
        None => Err(vm.type_err("integer->char", "a Unicode scalar value", n)),
    }
}
fn char_cmp(vm: &mut Vm, a: usize, n: usize, who: &str, ci: bool, ok: fn(char, char) -> bool) -> R<Value> {
    let mut cs = Vec::new();
    for i in 0..n {
        let c = want_char(vm, who, arg(vm, a, i))?;
        cs.push(if ci { c.to_lowercase().next().unwrap_or(c) } else { c });
    }
    Ok(Value::bool(cs.windows(2).all(|w| ok(w[0], w[1]))))
}
macro_rules! char_cmps {
    ($($f:ident $n:literal $ci:literal $op:tt),*) => {
        $(fn $f(vm: &mut Vm, a: usize, n: usize) -> R<Value> { char_cmp(vm, a, n, $n, $ci, |x, y| x $op y) })*
    };
}
char_cmps!(p_char_eq "char=?" false ==, p_char_lt "char<?" false <, p_char_gt "char>?" false >,
           p_char_le "char<=?" false <=, p_char_ge "char>=?" false >=, p_char_ci_eq "char-ci=?" true ==,
           p_char_ci_lt "char-ci<?" true <);
fn char_pred(vm: &mut Vm, a: usize, who: &str, f: fn(char) -> bool) -> R<Value> {
    Ok(Value::bool(f(want_char(vm, who, arg(vm, a, 0))?)))
}
fn p_alpha(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    char_pred(vm, a, "char-alphabetic?", char::is_alphabetic)
}
fn p_numeric(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    char_pred(vm, a, "char-numeric?", char::is_numeric)
}
fn p_white(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    char_pred(vm, a, "char-whitespace?", char::is_whitespace)
}
fn p_upperp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    char_pred(vm, a, "char-upper-case?", char::is_uppercase)
}
fn p_lowerp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    char_pred(vm, a, "char-lower-case?", char::is_lowercase)
}
fn p_upcase(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let c = want_char(vm, "char-upcase", arg(vm, a, 0))?;
    Ok(Value::chr(single(c.to_uppercase()).unwrap_or(c)))
}
fn p_downcase(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let c = want_char(vm, "char-downcase", arg(vm, a, 0))?;
    Ok(Value::chr(single(c.to_lowercase()).unwrap_or(c)))
}
fn p_digit_value(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let c = want_char(vm, "digit-value", arg(vm, a, 0))?;
    Ok(c.to_digit(10).map_or(FALSE, |d| Value::fix(d as i64)))
}

// ---------------------------------------------------------------- strings

fn want_index(vm: &Vm, who: &str, v: Value, limit: usize) -> R<usize> {
    match v.as_fix() {
        Some(n) if n >= 0 && (n as usize) <= limit => Ok(n as usize),
        _ => Err(SErr::Msg(format!(
            "{who}: index {} out of range (limit {limit})",
            vm.write_short(v, false)
        ))),
    }
}
fn range(vm: &Vm, who: &str, a: usize, n: usize, from: usize, total: usize) -> R<(usize, usize)> {
    let start = if n > from {
        want_index(vm, who, arg(vm, a, from), total)?
    } else {
        0
    };
    let end = if n > from + 1 {
        want_index(vm, who, arg(vm, a, from + 1), total)?
    } else {
        total
    };
    if start > end {
        return Err(SErr::Msg(format!("{who}: start {start} is after end {end}")));
    }
    Ok((start, end))
}
fn p_stringp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::String)))
}
fn p_make_string(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let k = want_index(vm, "make-string", arg(vm, a, 0), 1 << 40)?;
    vm.check_request("make-string", k as u64, 4)?;
    let c = if n > 1 {
        want_char(vm, "make-string", arg(vm, a, 1))?
    } else {
        ' '
    };
    vm.h.string_fill(&vm.r, k, c)
}
fn p_string(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let mut s = String::new();
    for i in 0..n {
        s.push(want_char(vm, "string", arg(vm, a, i))?);
    }
    vm.string(&s)
}
fn p_string_length(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::fix(len(want_string(vm, "string-length", arg(vm, a, 0))?) as i64))
}
fn p_string_ref(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = want_string(vm, "string-ref", arg(vm, a, 0))?;
    let i = want_index(vm, "string-ref", arg(vm, a, 1), len(s).wrapping_sub(1))?;
    if len(s) == 0 {
        return Err(SErr::Msg("string-ref: index out of range".into()));
    }
    Ok(Value::chr(str_char(s, i)))
}
fn p_string_set(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = want_string(vm, "string-set!", arg(vm, a, 0))?;
    if len(s) == 0 {
        return Err(SErr::Msg("string-set!: index out of range".into()));
    }
    let i = want_index(vm, "string-set!", arg(vm, a, 1), len(s) - 1)?;
    let c = want_char(vm, "string-set!", arg(vm, a, 2))?;
    str_set(s, i, c);
    Ok(UNSPEC)
}
fn p_substring(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let s = want_string(vm, "substring", arg(vm, a, 0))?;
    let (st, en) = range(vm, "substring", a, n, 1, len(s))?;
    let sub: String = (st..en).map(|i| str_char(s, i)).collect();
    vm.string(&sub)
}
fn p_string_append(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let mut out = String::new();
    for i in 0..n {
        out.push_str(&string_of(want_string(vm, "string-append", arg(vm, a, i))?));
    }
    vm.string(&out)
}
fn p_string_to_list(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let s = want_string(vm, "string->list", arg(vm, a, 0))?;
    let (st, en) = range(vm, "string->list", a, n, 1, len(s))?;
    let items: Vec<Value> = (st..en).map(|i| Value::chr(str_char(s, i))).collect();
    list_onto(vm, &items, NIL)
}
fn p_list_to_string(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let items = list_items(vm, "list->string", arg(vm, a, 0))?;
    let mut s = String::new();
    for c in items {
        s.push(want_char(vm, "list->string", c)?);
    }
    vm.string(&s)
}
fn p_string_copy(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    p_substring(vm, a, n)
}
fn p_string_fill(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let s = want_string(vm, "string-fill!", arg(vm, a, 0))?;
    let c = want_char(vm, "string-fill!", arg(vm, a, 1))?;
    let (st, en) = range(vm, "string-fill!", a, n, 2, len(s))?;
    for i in st..en {
        str_set(s, i, c);
    }
    Ok(UNSPEC)
}
fn str_cmp(vm: &mut Vm, a: usize, n: usize, who: &str, ci: bool, ok: fn(&str, &str) -> bool) -> R<Value> {
    let mut v = Vec::new();
    for i in 0..n {
        let s = string_of(want_string(vm, who, arg(vm, a, i))?);
        v.push(if ci { s.to_lowercase() } else { s });
    }
    Ok(Value::bool(v.windows(2).all(|w| ok(&w[0], &w[1]))))
}
macro_rules! str_cmps {
    ($($f:ident $n:literal $ci:literal $op:tt),*) => {
        $(fn $f(vm: &mut Vm, a: usize, n: usize) -> R<Value> { str_cmp(vm, a, n, $n, $ci, |x, y| x $op y) })*
    };
}
str_cmps!(p_str_eq "string=?" false ==, p_str_lt "string<?" false <, p_str_gt "string>?" false >,
          p_str_le "string<=?" false <=, p_str_ge "string>=?" false >=, p_str_ci_eq "string-ci=?" true ==);
fn p_string_upcase(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = string_of(want_string(vm, "string-upcase", arg(vm, a, 0))?).to_uppercase();
    vm.string(&s)
}
fn p_string_downcase(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = string_of(want_string(vm, "string-downcase", arg(vm, a, 0))?).to_lowercase();
    vm.string(&s)
}
fn p_string_index(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = want_string(vm, "string-index", arg(vm, a, 0))?;
    let c = want_char(vm, "string-index", arg(vm, a, 1))?;
    Ok((0..len(s))
        .find(|&i| str_char(s, i) == c)
        .map_or(FALSE, |i| Value::fix(i as i64)))
}
fn p_string_search(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let needle = string_of(want_string(vm, "string-search-forward", arg(vm, a, 0))?);
    let hay = string_of(want_string(vm, "string-search-forward", arg(vm, a, 1))?);
    Ok(match hay.find(&needle) {
        Some(b) => Value::fix(hay[..b].chars().count() as i64),
        None => FALSE,
    })
}

// ---------------------------------------------------------------- vectors

fn want_vector(vm: &Vm, who: &str, v: Value) -> R<Value> {
    if is_kind(v, Kind::Vector) {
        Ok(v)
    } else {
        Err(vm.type_err(who, "a vector", v))
    }
}
fn p_vectorp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Vector)))
}
fn p_make_vector(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let k = want_index(vm, "make-vector", arg(vm, a, 0), 1 << 36)?;
    vm.check_request("make-vector", k as u64, 8)?;
    let fill = if n > 1 { arg(vm, a, 1) } else { FALSE };
    vm.h.obj(&vm.r, Kind::Vector, k, fill)
}
fn p_vector(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let vals: Vec<Value> = vm.r.stack[a..a + n].to_vec();
    vm.make_obj(Kind::Vector, &vals)
}
fn p_vector_length(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::fix(len(want_vector(vm, "vector-length", arg(vm, a, 0))?) as i64))
}
fn p_vector_ref(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = want_vector(vm, "vector-ref", arg(vm, a, 0))?;
    if len(v) == 0 {
        return Err(SErr::Msg("vector-ref: index out of range for an empty vector".into()));
    }
    let i = want_index(vm, "vector-ref", arg(vm, a, 1), len(v) - 1)?;
    Ok(slot(v, i))
}
fn p_vector_set(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = want_vector(vm, "vector-set!", arg(vm, a, 0))?;
    if len(v) == 0 {
        return Err(SErr::Msg("vector-set!: index out of range for an empty vector".into()));
    }
    let i = want_index(vm, "vector-set!", arg(vm, a, 1), len(v) - 1)?;
    vm.h.set_slot(v, i, arg(vm, a, 2));
    Ok(UNSPEC)
}
fn p_vector_to_list(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let v = want_vector(vm, "vector->list", arg(vm, a, 0))?;
    let (st, en) = range(vm, "vector->list", a, n, 1, len(v))?;
    let items: Vec<Value> = (st..en).map(|i| slot(v, i)).collect();
    list_onto(vm, &items, NIL)
}
fn p_list_to_vector(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let items = list_items(vm, "list->vector", arg(vm, a, 0))?;
    vm.make_obj(Kind::Vector, &items)
}
fn p_vector_fill(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let v = want_vector(vm, "vector-fill!", arg(vm, a, 0))?;
    let (st, en) = range(vm, "vector-fill!", a, n, 2, len(v))?;
    for i in st..en {
        vm.h.set_slot(v, i, arg(vm, a, 1));
    }
    Ok(UNSPEC)
}
fn p_vector_copy(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let v = want_vector(vm, "vector-copy", arg(vm, a, 0))?;
    let (st, en) = range(vm, "vector-copy", a, n, 1, len(v))?;
    let items: Vec<Value> = (st..en).map(|i| slot(v, i)).collect();
    vm.make_obj(Kind::Vector, &items)
}
fn p_vector_copy_to(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let to = want_vector(vm, "vector-copy!", arg(vm, a, 0))?;
    let at = want_index(vm, "vector-copy!", arg(vm, a, 1), len(to))?;
    let from = want_vector(vm, "vector-copy!", arg(vm, a, 2))?;
    let (st, en) = range(vm, "vector-copy!", a, n, 3, len(from))?;
    if at + (en - st) > len(to) {
        return Err(SErr::Msg("vector-copy!: destination too small".into()));
    }
    let items: Vec<Value> = (st..en).map(|i| slot(from, i)).collect();
    for (k, x) in items.into_iter().enumerate() {
        vm.h.set_slot(to, at + k, x);
    }
    Ok(UNSPEC)
}
fn p_vector_append(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let mut items = Vec::new();
    for i in 0..n {
        let v = want_vector(vm, "vector-append", arg(vm, a, i))?;
        items.extend((0..len(v)).map(|k| slot(v, k)));
    }
    vm.make_obj(Kind::Vector, &items)
}
fn p_vector_to_string(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = want_vector(vm, "vector->string", arg(vm, a, 0))?;
    let mut s = String::new();
    for i in 0..len(v) {
        s.push(want_char(vm, "vector->string", slot(v, i))?);
    }
    vm.string(&s)
}
fn p_string_to_vector(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = want_string(vm, "string->vector", arg(vm, a, 0))?;
    let items: Vec<Value> = (0..len(s)).map(|i| Value::chr(str_char(s, i))).collect();
    vm.make_obj(Kind::Vector, &items)
}

// ---------------------------------------------------------------- bytevectors

fn want_bv(vm: &Vm, who: &str, v: Value) -> R<Value> {
    if is_kind(v, Kind::Bytevector) {
        Ok(v)
    } else {
        Err(vm.type_err(who, "a bytevector", v))
    }
}
fn want_byte(vm: &Vm, who: &str, v: Value) -> R<u8> {
    v.as_fix()
        .and_then(|n| u8::try_from(n).ok())
        .ok_or_else(|| vm.type_err(who, "a byte", v))
}
fn p_bvp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Bytevector)))
}
fn p_make_bv(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let k = want_index(vm, "make-bytevector", arg(vm, a, 0), 1 << 40)?;
    let b = if n > 1 {
        want_byte(vm, "make-bytevector", arg(vm, a, 1))?
    } else {
        0
    };
    vm.check_request("make-bytevector", k as u64, 1)?;
    vm.h.bytevector(&vm.r, &vec![b; k])
}
fn p_bytevector(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let mut b = Vec::new();
    for i in 0..n {
        b.push(want_byte(vm, "bytevector", arg(vm, a, i))?);
    }
    vm.h.bytevector(&vm.r, &b)
}
fn p_bv_ref(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = want_bv(vm, "bytevector-u8-ref", arg(vm, a, 0))?;
    let i = want_index(vm, "bytevector-u8-ref", arg(vm, a, 1), len(v))?;
    bytes(v)
        .get(i)
        .map(|&b| Value::fix(b as i64))
        .ok_or(SErr::Msg("bytevector-u8-ref: index out of range".into()))
}
fn p_bv_set(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = want_bv(vm, "bytevector-u8-set!", arg(vm, a, 0))?;
    let i = want_index(vm, "bytevector-u8-set!", arg(vm, a, 1), len(v))?;
    let b = want_byte(vm, "bytevector-u8-set!", arg(vm, a, 2))?;
    match bytes_mut(v).get_mut(i) {
        Some(x) => *x = b,
        None => return Err(SErr::Msg("bytevector-u8-set!: index out of range".into())),
    }
    Ok(UNSPEC)
}
fn p_bv_len(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::fix(len(want_bv(vm, "bytevector-length", arg(vm, a, 0))?) as i64))
}
fn p_bv_copy(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let v = want_bv(vm, "bytevector-copy", arg(vm, a, 0))?;
    let (st, en) = range(vm, "bytevector-copy", a, n, 1, len(v))?;
    let b = bytes(v)[st..en].to_vec();
    vm.h.bytevector(&vm.r, &b)
}
fn p_bv_append(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let mut b = Vec::new();
    for i in 0..n {
        b.extend_from_slice(bytes(want_bv(vm, "bytevector-append", arg(vm, a, i))?));
    }
    vm.h.bytevector(&vm.r, &b)
}
fn p_utf8_to_string(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = want_bv(vm, "utf8->string", arg(vm, a, 0))?;
    let s = String::from_utf8_lossy(bytes(v)).into_owned();
    vm.string(&s)
}
fn p_string_to_utf8(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = string_of(want_string(vm, "string->utf8", arg(vm, a, 0))?);
    vm.h.bytevector(&vm.r, s.as_bytes())
}

pub const PRIMS: &[Prim] = &[
    Prim::new("eq?", 2, 2, F(p_eq)),
    Prim::new("eqv?", 2, 2, F(p_eqv)),
    Prim::new("equal?", 2, 2, F(p_equal)),
    Prim::new("not", 1, 1, F(p_not)),
    Prim::new("boolean?", 1, 1, F(p_booleanp)),
    Prim::new("boolean=?", 2, u16::MAX, F(p_symbol_eq)),
    Prim::new("procedure?", 1, 1, F(p_procedurep)),
    Prim::new("cons", 2, 2, F(p_cons)),
    Prim::new("%cons", 2, 2, F(p_cons)),
    Prim::new("car", 1, 1, F(p_car)),
    Prim::new("cdr", 1, 1, F(p_cdr)),
    Prim::new("set-car!", 2, 2, F(p_set_car)),
    Prim::new("set-cdr!", 2, 2, F(p_set_cdr)),
    Prim::new("caar", 1, 1, F(caar)),
    Prim::new("cadr", 1, 1, F(cadr)),
    Prim::new("cdar", 1, 1, F(cdar)),
    Prim::new("cddr", 1, 1, F(cddr)),
    Prim::new("caaar", 1, 1, F(caaar)),
    Prim::new("caadr", 1, 1, F(caadr)),
    Prim::new("cadar", 1, 1, F(cadar)),
    Prim::new("caddr", 1, 1, F(caddr)),
    Prim::new("cdaar", 1, 1, F(cdaar)),
    Prim::new("cdadr", 1, 1, F(cdadr)),
    Prim::new("cddar", 1, 1, F(cddar)),
    Prim::new("cdddr", 1, 1, F(cdddr)),
    Prim::new("cadddr", 1, 1, F(cadddr)),
    Prim::new("cddddr", 1, 1, F(cddddr)),
    Prim::new("caaaar", 1, 1, F(caaaar)),
    Prim::new("caaadr", 1, 1, F(caaadr)),
    Prim::new("caadar", 1, 1, F(caadar)),
    Prim::new("caaddr", 1, 1, F(caaddr)),
    Prim::new("cadaar", 1, 1, F(cadaar)),
    Prim::new("cadadr", 1, 1, F(cadadr)),
    Prim::new("caddar", 1, 1, F(caddar)),
    Prim::new("cdaaar", 1, 1, F(cdaaar)),
    Prim::new("cdaadr", 1, 1, F(cdaadr)),
    Prim::new("cdadar", 1, 1, F(cdadar)),
    Prim::new("cdaddr", 1, 1, F(cdaddr)),
    Prim::new("cddaar", 1, 1, F(cddaar)),
    Prim::new("cddadr", 1, 1, F(cddadr)),
    Prim::new("cdddar", 1, 1, F(cdddar)),
    Prim::new("pair?", 1, 1, F(p_pairp)),
    Prim::new("null?", 1, 1, F(p_nullp)),
    Prim::new("list?", 1, 1, F(p_listp)),
    Prim::new("list", 0, u16::MAX, F(p_list)),
    Prim::new("%list", 0, u16::MAX, F(p_list)),
    Prim::new("length", 1, 1, F(p_length)),
    Prim::new("append", 0, u16::MAX, F(p_append)),
    Prim::new("%append2", 2, 2, F(p_append)),
    Prim::new("reverse", 1, 1, F(p_reverse)),
    Prim::new("list-tail", 2, 2, F(p_list_tail)),
    Prim::new("list-ref", 2, 2, F(p_list_ref)),
    Prim::new("memq", 2, 2, F(p_memq)),
    Prim::new("memv", 2, 2, F(p_memv)),
    Prim::new("%memv", 2, 2, F(p_memv)),
    Prim::new("%member", 2, 2, F(p_member)),
    Prim::new("assq", 2, 2, F(p_assq)),
    Prim::new("assv", 2, 2, F(p_assv)),
    Prim::new("%assoc", 2, 2, F(p_assoc)),
    Prim::new("list-copy", 1, 1, F(p_list_copy)),
    Prim::new("make-list", 1, 2, F(p_make_list)),
    Prim::new("last-pair", 1, 1, F(p_last_pair)),
    Prim::new("symbol?", 1, 1, F(p_symbolp)),
    Prim::new("symbol->string", 1, 1, F(p_symbol_to_string)),
    Prim::new("string->symbol", 1, 1, F(p_string_to_symbol)),
    Prim::new("symbol=?", 1, u16::MAX, F(p_symbol_eq)),
    Prim::new("char?", 1, 1, F(p_charp)),
    Prim::new("char->integer", 1, 1, F(p_char_to_integer)),
    Prim::new("integer->char", 1, 1, F(p_integer_to_char)),
    Prim::new("char=?", 1, u16::MAX, F(p_char_eq)),
    Prim::new("char<?", 1, u16::MAX, F(p_char_lt)),
    Prim::new("char>?", 1, u16::MAX, F(p_char_gt)),
    Prim::new("char<=?", 1, u16::MAX, F(p_char_le)),
    Prim::new("char>=?", 1, u16::MAX, F(p_char_ge)),
    Prim::new("char-ci=?", 1, u16::MAX, F(p_char_ci_eq)),
    Prim::new("char-ci<?", 1, u16::MAX, F(p_char_ci_lt)),
    Prim::new("char-alphabetic?", 1, 1, F(p_alpha)),
    Prim::new("char-numeric?", 1, 1, F(p_numeric)),
    Prim::new("char-whitespace?", 1, 1, F(p_white)),
    Prim::new("char-upper-case?", 1, 1, F(p_upperp)),
    Prim::new("char-lower-case?", 1, 1, F(p_lowerp)),
    Prim::new("char-upcase", 1, 1, F(p_upcase)),
    Prim::new("char-downcase", 1, 1, F(p_downcase)),
    Prim::new("digit-value", 1, 1, F(p_digit_value)),
    Prim::new("string?", 1, 1, F(p_stringp)),
    Prim::new("make-string", 1, 2, F(p_make_string)),
    Prim::new("string", 0, u16::MAX, F(p_string)),
    Prim::new("string-length", 1, 1, F(p_string_length)),
    Prim::new("string-ref", 2, 2, F(p_string_ref)),
    Prim::new("string-set!", 3, 3, F(p_string_set)),
    Prim::new("substring", 2, 3, F(p_substring)),
    Prim::new("string-append", 0, u16::MAX, F(p_string_append)),
    Prim::new("string->list", 1, 3, F(p_string_to_list)),
    Prim::new("list->string", 1, 1, F(p_list_to_string)),
    Prim::new("string-copy", 1, 3, F(p_string_copy)),
    Prim::new("string-fill!", 2, 4, F(p_string_fill)),
    Prim::new("string=?", 1, u16::MAX, F(p_str_eq)),
    Prim::new("string<?", 1, u16::MAX, F(p_str_lt)),
    Prim::new("string>?", 1, u16::MAX, F(p_str_gt)),
    Prim::new("string<=?", 1, u16::MAX, F(p_str_le)),
    Prim::new("string>=?", 1, u16::MAX, F(p_str_ge)),
    Prim::new("string-ci=?", 1, u16::MAX, F(p_str_ci_eq)),
    Prim::new("string-upcase", 1, 1, F(p_string_upcase)),
    Prim::new("string-downcase", 1, 1, F(p_string_downcase)),
    Prim::new("string-index", 2, 2, F(p_string_index)),
    Prim::new("string-search-forward", 2, 3, F(p_string_search)),
    Prim::new("vector?", 1, 1, F(p_vectorp)),
    Prim::new("make-vector", 1, 2, F(p_make_vector)),
    Prim::new("vector", 0, u16::MAX, F(p_vector)),
    Prim::new("vector-length", 1, 1, F(p_vector_length)),
    Prim::new("vector-ref", 2, 2, F(p_vector_ref)),
    Prim::new("vector-set!", 3, 3, F(p_vector_set)),
    Prim::new("vector->list", 1, 3, F(p_vector_to_list)),
    Prim::new("list->vector", 1, 1, F(p_list_to_vector)),
    Prim::new("%list->vector", 1, 1, F(p_list_to_vector)),
    Prim::new("vector-fill!", 2, 4, F(p_vector_fill)),
    Prim::new("vector-copy", 1, 3, F(p_vector_copy)),
    Prim::new("vector-copy!", 3, 5, F(p_vector_copy_to)),
    Prim::new("vector-append", 0, u16::MAX, F(p_vector_append)),
    Prim::new("vector->string", 1, 1, F(p_vector_to_string)),
    Prim::new("string->vector", 1, 1, F(p_string_to_vector)),
    Prim::new("bytevector?", 1, 1, F(p_bvp)),
    Prim::new("make-bytevector", 1, 2, F(p_make_bv)),
    Prim::new("bytevector", 0, u16::MAX, F(p_bytevector)),
    Prim::new("bytevector-u8-ref", 2, 2, F(p_bv_ref)),
    Prim::new("bytevector-u8-set!", 3, 3, F(p_bv_set)),
    Prim::new("bytevector-length", 1, 1, F(p_bv_len)),
    Prim::new("bytevector-copy", 1, 3, F(p_bv_copy)),
    Prim::new("bytevector-append", 0, u16::MAX, F(p_bv_append)),
    Prim::new("utf8->string", 1, 1, F(p_utf8_to_string)),
    Prim::new("string->utf8", 1, 1, F(p_string_to_utf8)),
];
