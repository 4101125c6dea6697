//! System builtins: ports and I/O, errors and conditions, records,
//! promises, parameters, SRFI 69 hash tables (on the Marrow heap, address
//! hashing is safe because objects never move), the collector interface,
//! `load`, `exit`, time and the command line.

use super::data::{equal, eqv, list_items};
use super::{arg, Prim, PrimKind::Fn as F};
use crate::heap::*;
use crate::reader::{file_id, Reader};
use crate::value::*;
use crate::vm::{PortState, Vm};
use std::io::{Read, Write};

// ---------------------------------------------------------------- ports

fn port_index(vm: &Vm, who: &str, p: Value) -> R<usize> {
    if is_kind(p, Kind::Port) {
        Ok(slot(p, 0).fixval() as usize)
    } else {
        Err(vm.type_err(who, "a port", p))
    }
}

/// The current output port's index (the `current-output-port` parameter).
fn current_port(vm: &Vm, name: &str) -> usize {
    let p = vm.global_value(&crate::reader::private(name));
    let p = if is_kind(p, Kind::Param) { slot(p, 0) } else { p };
    if is_kind(p, Kind::Port) {
        slot(p, 0).fixval() as usize
    } else if name == "current-input-port" {
        0
    } else {
        1
    }
}

fn out_port(vm: &Vm, who: &str, a: usize, n: usize, i: usize) -> R<usize> {
    if n > i {
        port_index(vm, who, arg(vm, a, i))
    } else {
        Ok(current_port(vm, "current-output-port"))
    }
}

pub fn emit(vm: &mut Vm, port: usize, s: &str) -> R<()> {
    match vm.ports.get_mut(port) {
        Some(PortState::Stdout) => {
            vm.out.extend_from_slice(s.as_bytes());
            if vm.out.len() > 1 << 16 {
                flush(vm)?;
            }
            Ok(())
        }
        Some(PortState::Stderr) => {
            flush(vm)?;
            if !vm.quiet {
                let _ = std::io::stderr().write_all(s.as_bytes());
            }
            Ok(())
        }
        Some(PortState::StrOut(b)) => {
            b.push_str(s);
            Ok(())
        }
        _ => Err(SErr::Msg("write: not an open output port".into())),
    }
}

/// Writes buffered standard output. A closed pipe (`marrow x.scm | head`)
/// ends the program quietly with status 141, as SIGPIPE would (Rust
/// ignores the signal, so the write fails instead); any other write error
/// is a Scheme error. Either way the buffer is dropped.
pub fn flush(vm: &mut Vm) -> R<()> {
    if vm.quiet {
        vm.out.clear();
    }
    if vm.out.is_empty() {
        return Ok(());
    }
    let mut o = std::io::stdout().lock();
    let r = o.write_all(&vm.out).and_then(|_| o.flush());
    vm.out.clear();
    match r {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(SErr::Exit(EXIT_BROKEN_PIPE)),
        Err(e) => Err(SErr::Msg(format!("write error on standard output: {e}"))),
    }
}

/// Exit status after standard output's reader went away (128 + SIGPIPE).
pub const EXIT_BROKEN_PIPE: i32 = 141;

fn p_display(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = out_port(vm, "display", a, n, 1)?;
    let s = vm.write_string(arg(vm, a, 0), true);
    emit(vm, p, &s)?;
    Ok(UNSPEC)
}
fn p_write(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = out_port(vm, "write", a, n, 1)?;
    let s = vm.write_string(arg(vm, a, 0), false);
    emit(vm, p, &s)?;
    Ok(UNSPEC)
}
fn p_newline(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = out_port(vm, "newline", a, n, 0)?;
    emit(vm, p, "\n")?;
    Ok(UNSPEC)
}
fn p_write_char(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = out_port(vm, "write-char", a, n, 1)?;
    let c = arg(vm, a, 0)
        .as_char()
        .ok_or_else(|| vm.type_err("write-char", "a character", arg(vm, a, 0)))?;
    emit(vm, p, &c.to_string())?;
    Ok(UNSPEC)
}
fn p_write_string(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = out_port(vm, "write-string", a, n, 1)?;
    let s = arg(vm, a, 0);
    if !is_kind(s, Kind::String) {
        return Err(vm.type_err("write-string", "a string", s));
    }
    let s = string_of(s);
    emit(vm, p, &s)?;
    Ok(UNSPEC)
}
fn p_flush(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    flush(vm)?;
    Ok(UNSPEC)
}

/// A port object for a new native port state. Ports are closed by a
/// cleanup when their object becomes garbage: the cleanup (run by the
/// collector's mutator outside any pause) reports the slot, and the next
/// port made closes it (dropping its buffers) and reuses it, so the table
/// stays as large as the ports alive.
fn make_port(vm: &mut Vm, st: PortState) -> R<Value> {
    vm.h.m.run_cleanups();
    let dead = std::mem::take(&mut *vm.dead_ports.lock().unwrap_or_else(|e| e.into_inner()));
    for i in dead {
        vm.ports[i] = PortState::Closed;
        vm.free_ports.push(i);
    }
    let i = match vm.free_ports.pop() {
        Some(i) => {
            vm.ports[i] = st;
            i
        }
        None => {
            vm.ports.push(st);
            vm.ports.len() - 1
        }
    };
    let p = match vm.make_obj(Kind::Port, &[Value::fix(i as i64)]) {
        Ok(p) => p,
        Err(e) => {
            vm.ports[i] = PortState::Closed;
            vm.free_ports.push(i);
            return Err(e);
        }
    };
    let dead = vm.dead_ports.clone();
    vm.h.m
        .add_cleanup(p.raw(), move || dead.lock().unwrap_or_else(|e| e.into_inner()).push(i));
    Ok(p)
}
fn p_open_input_string(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let s = arg(vm, a, 0);
    if !is_kind(s, Kind::String) {
        return Err(vm.type_err("open-input-string", "a string", s));
    }
    let chars: Vec<char> = string_of(s).chars().collect();
    make_port(vm, PortState::StrIn(chars, 0))
}
fn p_open_output_string(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    make_port(vm, PortState::StrOut(String::new()))
}
fn p_get_output_string(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let i = port_index(vm, "get-output-string", arg(vm, a, 0))?;
    let s = match &vm.ports[i] {
        PortState::StrOut(s) => s.clone(),
        _ => return Err(SErr::Msg("get-output-string: not a string output port".into())),
    };
    vm.string(&s)
}
fn p_close_port(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let i = port_index(vm, "close-port", arg(vm, a, 0))?;
    if i > 2 {
        vm.ports[i] = PortState::Closed;
    }
    Ok(UNSPEC)
}
fn p_portp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Port)))
}

/// Reads (or peeks) one character from an input port.
fn in_char(vm: &mut Vm, port: usize, peek: bool) -> R<Option<char>> {
    match &mut vm.ports[port] {
        PortState::StrIn(chars, pos) => {
            let c = chars.get(*pos).copied();
            if !peek && c.is_some() {
                *pos += 1;
            }
            Ok(c)
        }
        PortState::Stdin => {
            if vm.stdin_pos >= vm.stdin_buf.len() && !vm.stdin_eof {
                flush(vm)?;
                let mut s = String::new();
                let mut buf = Vec::new();
                let _ = std::io::stdin().lock().read_to_end(&mut buf);
                s.push_str(&String::from_utf8_lossy(&buf));
                vm.stdin_buf.extend(s.chars());
                vm.stdin_eof = true;
            }
            let c = vm.stdin_buf.get(vm.stdin_pos).copied();
            if !peek && c.is_some() {
                vm.stdin_pos += 1;
            }
            Ok(c)
        }
        _ => Err(SErr::Msg("read: not an open input port".into())),
    }
}
fn in_port(vm: &Vm, who: &str, a: usize, n: usize) -> R<usize> {
    if n > 0 {
        port_index(vm, who, arg(vm, a, 0))
    } else {
        Ok(current_port(vm, "current-input-port"))
    }
}
fn p_read_char(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = in_port(vm, "read-char", a, n)?;
    Ok(in_char(vm, p, false)?.map_or(EOF, Value::chr))
}
fn p_peek_char(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = in_port(vm, "peek-char", a, n)?;
    Ok(in_char(vm, p, true)?.map_or(EOF, Value::chr))
}
fn p_read_line(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = in_port(vm, "read-line", a, n)?;
    let mut s = String::new();
    let mut any = false;
    while let Some(c) = in_char(vm, p, false)? {
        any = true;
        if c == '\n' {
            break;
        }
        s.push(c);
    }
    if !any {
        return Ok(EOF);
    }
    vm.string(&s)
}
fn p_read_string(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let k = arg(vm, a, 0).as_fix().unwrap_or(0);
    let p = if n > 1 {
        port_index(vm, "read-string", arg(vm, a, 1))?
    } else {
        current_port(vm, "current-input-port")
    };
    let mut s = String::new();
    for _ in 0..k {
        match in_char(vm, p, false)? {
            Some(c) => s.push(c),
            None => break,
        }
    }
    if s.is_empty() && k > 0 {
        return Ok(EOF);
    }
    vm.string(&s)
}
fn p_read(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let p = in_port(vm, "read", a, n)?;
    // Read one datum from the rest of the port's text and advance. The text
    // is borrowed out of the port, not copied: reading a port datum by
    // datum stays linear.
    let _ = in_char(vm, p, true)?;
    let (chars, start): (Vec<char>, usize) = match &mut vm.ports[p] {
        PortState::StrIn(c, pos) => (std::mem::take(c), *pos),
        PortState::Stdin => (std::mem::take(&mut vm.stdin_buf), vm.stdin_pos),
        _ => return Err(SErr::Msg("read: not an input port".into())),
    };
    let mut r = Reader::new(&chars[start..], file_id("<input>"));
    let d = r.read();
    let used = r.consumed();
    match &mut vm.ports[p] {
        PortState::StrIn(c, pos) => {
            *c = chars;
            *pos += used;
        }
        _ => {
            vm.stdin_buf = chars;
            vm.stdin_pos += used;
        }
    }
    let d = d.map_err(|e| SErr::Kinded(format!("read: {}", e.msg), CondKind::Read))?;
    match d {
        None => Ok(EOF),
        Some(d) => vm.datum_to_value(&d),
    }
}
fn p_eof_object(_: &mut Vm, _: usize, _: usize) -> R<Value> {
    Ok(EOF)
}
fn p_eof_objectp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(arg(vm, a, 0) == EOF))
}
fn p_char_ready(_: &mut Vm, _: usize, _: usize) -> R<Value> {
    Ok(TRUE)
}

// ---------------------------------------------------------------- errors

fn p_error(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let msg = arg(vm, a, 0);
    let vals: Vec<Value> = vm.r.stack[a + 1..a + n].to_vec();
    let irritants = vm.list(&vals)?;
    vm.r.tmp.push(irritants);
    let m = if is_kind(msg, Kind::String) {
        Ok(msg)
    } else {
        let s = vm.write_string(msg, true);
        vm.string(&s)
    };
    let irritants = vm.r.tmp.pop().unwrap_or(NIL);
    let m = m?;
    let e = vm.make_obj(Kind::Error, &[m, irritants, FALSE])?;
    Err(SErr::Raise(e, false))
}
fn p_raise(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Err(SErr::Raise(arg(vm, a, 0), false))
}
fn p_raise_continuable(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Err(SErr::Raise(arg(vm, a, 0), true))
}
fn p_handler_returned(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let m = vm.condition_message(arg(vm, a, 0));
    Err(SErr::Msg(format!(
        "exception handler returned from a non-continuable raise of: {m}"
    )))
}
fn p_error_objectp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Error)))
}
fn want_error(vm: &Vm, who: &str, v: Value) -> R<Value> {
    if is_kind(v, Kind::Error) {
        Ok(v)
    } else {
        Err(vm.type_err(who, "an error object", v))
    }
}
fn p_error_message(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(slot(want_error(vm, "error-object-message", arg(vm, a, 0))?, 0))
}
fn p_error_irritants(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(slot(want_error(vm, "error-object-irritants", arg(vm, a, 0))?, 1))
}
fn p_file_errorp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    Ok(Value::bool(is_kind(v, Kind::Error) && slot(v, 2) == Value::fix(1)))
}
fn p_read_errorp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    Ok(Value::bool(is_kind(v, Kind::Error) && slot(v, 2) == Value::fix(2)))
}

// ---------------------------------------------------------------- records

fn p_make_rtd(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (n, f) = (arg(vm, a, 0), arg(vm, a, 1));
    vm.make_obj(Kind::Rtd, &[n, f])
}
fn p_record(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let rtd = arg(vm, a, 0);
    if !is_kind(rtd, Kind::Rtd) {
        return Err(vm.type_err("record constructor", "a record type", rtd));
    }
    let vals: Vec<Value> = vm.r.stack[a..a + n].to_vec();
    vm.make_obj(Kind::Record, &vals)
}
fn p_recordp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let r = arg(vm, a, 0);
    Ok(Value::bool(is_kind(r, Kind::Record) && slot(r, 0) == arg(vm, a, 1)))
}
/// `(%record-ref obj rtd i who)` / `(%record-set! obj rtd i v who)`: the
/// object must be a record of exactly `rtd` and `i` one of its fields. The
/// descriptor test alone would do for the procedures `define-record-type`
/// makes (they capture their descriptor), but the builtin checks its own
/// arguments rather than trust its callers.
fn check_record(vm: &Vm, a: usize, who_i: usize) -> R<(Value, usize)> {
    let r = arg(vm, a, 0);
    let rtd = arg(vm, a, 1);
    let who = || vm.write_short(arg(vm, a, who_i), true);
    if !is_kind(rtd, Kind::Rtd) {
        return Err(vm.type_err(&who(), "a record type", rtd));
    }
    if !(is_kind(r, Kind::Record) && slot(r, 0) == rtd) {
        let tn = vm.write_short(slot(rtd, 0), true);
        return Err(vm.type_err(&who(), &format!("a {tn} record"), r));
    }
    match arg(vm, a, 2).as_fix() {
        Some(i) if i >= 0 && (i as usize) + 1 < len(r) => Ok((r, i as usize + 1)),
        _ => Err(SErr::Msg(format!("{}: no such field in the record", who()))),
    }
}
fn p_record_ref(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (r, i) = check_record(vm, a, 3)?;
    Ok(slot(r, i))
}
fn p_record_set(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (r, i) = check_record(vm, a, 4)?;
    vm.h.set_slot(r, i, arg(vm, a, 3));
    Ok(UNSPEC)
}

// ---------------------------------------------------------------- promises, parameters, values

fn p_make_lazy(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let b = vm.cons(FALSE, arg(vm, a, 0))?;
    vm.make_obj(Kind::Promise, &[b])
}
fn p_make_eager(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let b = vm.cons(TRUE, arg(vm, a, 0))?;
    vm.make_obj(Kind::Promise, &[b])
}
fn p_promisep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Promise)))
}
fn want_promise(vm: &Vm, p: Value) -> R<Value> {
    if is_kind(p, Kind::Promise) && slot(p, 0).is_pair() {
        Ok(p)
    } else {
        Err(vm.type_err("force", "a promise", p))
    }
}
fn p_promise_box(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(slot(want_promise(vm, arg(vm, a, 0))?, 0))
}
fn p_promise_set_box(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let p = want_promise(vm, arg(vm, a, 0))?;
    let b = arg(vm, a, 1);
    if !b.is_pair() {
        return Err(vm.type_err("force", "a promise box", b));
    }
    vm.h.set_slot(p, 0, b);
    Ok(UNSPEC)
}
fn p_make_param(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (v, c) = (arg(vm, a, 0), arg(vm, a, 1));
    vm.make_obj(Kind::Param, &[v, c])
}
fn p_param_converter(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let p = arg(vm, a, 0);
    if !is_kind(p, Kind::Param) {
        return Err(vm.type_err("parameterize", "a parameter", p));
    }
    Ok(slot(p, 1))
}
fn p_mvp(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Values)))
}
fn p_mv_to_list(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let v = arg(vm, a, 0);
    if !is_kind(v, Kind::Values) {
        return Err(vm.type_err("call-with-values", "multiple values", v));
    }
    let vals: Vec<Value> = (0..len(v)).map(|i| slot(v, i)).collect();
    vm.list(&vals)
}
/// `(%case-lambda clause ...)`: every clause must be a closure (the VM's
/// dispatch reads each clause's prototype).
fn p_case_lambda(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let vals: Vec<Value> = vm.r.stack[a..a + n].to_vec();
    if let Some(&bad) = vals.iter().find(|&&c| !is_kind(c, Kind::Closure)) {
        return Err(vm.type_err("case-lambda", "a lambda clause", bad));
    }
    vm.make_obj(Kind::CaseLambda, &vals)
}

// ---------------------------------------------------------------- hash tables

const HT_EQ: i64 = 0;
const HT_EQV: i64 = 1;
const HT_EQUAL: i64 = 2;
const HT_STRING: i64 = 3;

fn mix(h: u64) -> u64 {
    let h = h.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^ (h >> 29)
}

fn hash_value(v: Value, kind_: i64, budget: &mut u32) -> u64 {
    if *budget == 0 {
        return 7;
    }
    *budget -= 1;
    if kind_ == HT_EQ {
        return mix(v.raw() as u64);
    }
    if v.is_flonum() {
        return mix(flo(v).to_bits());
    }
    if is_kind(v, Kind::Bignum) {
        return mix(big_of(v)
            .mag
            .iter()
            .fold(0u64, |h, &l| h.wrapping_mul(31).wrapping_add(l as u64)));
    }
    if kind_ == HT_EQV {
        return mix(v.raw() as u64);
    }
    if v.is_pair() {
        let a = hash_value(car(v), kind_, budget);
        let b = hash_value(cdr(v), kind_, budget);
        return mix(a.wrapping_mul(31) ^ b);
    }
    match kind(v) {
        Some(Kind::String) | Some(Kind::Bytevector) => mix(bytes(v)
            .iter()
            .fold(0u64, |h, &b| h.wrapping_mul(131).wrapping_add(b as u64))),
        Some(Kind::Vector) => {
            let mut h = len(v) as u64;
            for i in 0..len(v).min(16) {
                h = h.wrapping_mul(31) ^ hash_value(slot(v, i), kind_, budget);
            }
            mix(h)
        }
        _ => mix(v.raw() as u64),
    }
}

fn same(k: Value, x: Value, kind_: i64) -> bool {
    match kind_ {
        HT_EQ => k == x,
        HT_EQV => eqv(k, x),
        _ => equal(k, x),
    }
}

fn want_table(vm: &Vm, who: &str, v: Value) -> R<Value> {
    if is_kind(v, Kind::Table) {
        Ok(v)
    } else {
        Err(vm.type_err(who, "a hash table", v))
    }
}

// Weak tables (Guile's make-weak-key-hash-table and friends). A table's
// slot 0 holds its equivalence (bits 0-3) and its weakness (bits 4-5).
// A strong table's entries are pairs (key . value). A weak table's entries
// are built from holders, two-word no-scan objects the collector knows
// (gc/src/weak.rs), never seen by Scheme code:
// - weak keys: an ephemeron holder [key, value]: the value is kept while
//   the key is, even if the value refers to the key;
// - weak values: a pair (key . holder), the holder a weak reference [value];
// - doubly weak: a pair (key-holder . value-holder), two weak references.
// An entry whose weak part was cleared is dead: lookups skip it, and
// rehashing, deleting and clearing drop it. Weak words are read through
// `Mutator::read_weak`, which keeps what it returns alive during a mark.
const WEAK_NONE: i64 = 0;
const WEAK_KEY: i64 = 1;
const WEAK_VALUE: i64 = 2;
const WEAK_BOTH: i64 = 3;

fn table_equiv(t: Value) -> i64 {
    slot(t, 0).fixval() & 15
}

fn table_weakness(t: Value) -> i64 {
    slot(t, 0).fixval() >> 4
}

/// The address of holder `h` (a holder is an allocated object, never 0).
fn holder_ptr(h: Value) -> std::ptr::NonNull<u8> {
    std::ptr::NonNull::new(h.raw() as *mut u8).unwrap_or_else(|| unreachable!("a holder is an allocated object"))
}

/// Word `i` of the holder `h`, through the collector (0 once cleared).
fn weak_word(vm: &mut Vm, h: Value, i: usize) -> Value {
    let p = holder_ptr(h);
    // SAFETY: `h` is a holder of a live table entry: a two-word object of
    // this heap, reachable from the table (or rooted by the caller).
    Value(unsafe { vm.h.m.read_weak(p, i) })
}

/// A new holder of the words `a`, `b` (`a` and `b` rooted by the caller).
fn holder(vm: &mut Vm, a: Value, b: Value) -> R<Value> {
    let p = vm.h.m.alloc_bytes(16, &vm.r)?;
    let w = p.as_ptr() as *const std::sync::atomic::AtomicUsize;
    // SAFETY: a fresh no-scan object of two words, reachable by nobody yet.
    unsafe {
        (*w).store(a.raw(), std::sync::atomic::Ordering::Relaxed);
        (*w.add(1)).store(b.raw(), std::sync::atomic::Ordering::Release);
    }
    Ok(Value(p.as_ptr() as usize))
}

/// Registers holder `h` with the collector.
fn register(vm: &mut Vm, h: Value, ephemeron: bool) {
    let p = holder_ptr(h);
    // SAFETY: `h` is a fresh two-word no-scan holder of this heap, read
    // through `read_weak` only (`weak_word`).
    unsafe {
        if ephemeron {
            vm.h.m.register_ephemeron(p)
        } else {
            vm.h.m.register_weak_ref(p)
        }
    }
}

/// Stores `v` into word `i` of holder `h` through the write barrier.
fn holder_store(vm: &mut Vm, h: Value, i: usize, v: Value) {
    let p = holder_ptr(h);
    // SAFETY: `h` is a live two-word holder of this heap.
    unsafe { vm.h.m.write_ptr(p, i, v.raw()) };
}

/// A new entry for a table of weakness `w` (`k` and `v` rooted).
fn make_entry(vm: &mut Vm, w: i64, k: Value, v: Value) -> R<Value> {
    match w {
        WEAK_NONE => vm.h.pair(&vm.r, k, v),
        WEAK_KEY => {
            let h = holder(vm, k, v)?;
            register(vm, h, true);
            Ok(h)
        }
        WEAK_VALUE => {
            let hv = holder(vm, v, FALSE)?;
            register(vm, hv, false);
            vm.r.tmp.push(hv);
            let e = vm.h.pair(&vm.r, k, hv);
            vm.r.tmp.pop();
            e
        }
        _ => {
            let hk = holder(vm, k, FALSE)?;
            register(vm, hk, false);
            vm.r.tmp.push(hk);
            let hv = holder(vm, v, FALSE);
            let hv = match hv {
                Ok(hv) => hv,
                Err(e) => {
                    vm.r.tmp.pop();
                    return Err(e);
                }
            };
            register(vm, hv, false);
            vm.r.tmp.push(hv);
            let e = vm.h.pair(&vm.r, hk, hv);
            vm.r.tmp.truncate(vm.r.tmp.len() - 2);
            e
        }
    }
}

/// The key of entry `e`, None if the entry is dead.
fn entry_key(vm: &mut Vm, w: i64, e: Value) -> Option<Value> {
    let k = match w {
        WEAK_NONE | WEAK_VALUE => car(e),
        WEAK_KEY => weak_word(vm, e, 0),
        _ => weak_word(vm, car(e), 0),
    };
    (k.raw() != 0).then_some(k)
}

/// The value of entry `e`, None if the entry is dead.
fn entry_value(vm: &mut Vm, w: i64, e: Value) -> Option<Value> {
    let v = match w {
        WEAK_NONE => cdr(e),
        WEAK_KEY => {
            entry_key(vm, w, e)?;
            weak_word(vm, e, 1)
        }
        WEAK_VALUE => weak_word(vm, cdr(e), 0),
        _ => {
            entry_key(vm, w, e)?;
            weak_word(vm, cdr(e), 0)
        }
    };
    (v.raw() != 0).then_some(v)
}

fn entry_set_value(vm: &mut Vm, w: i64, e: Value, v: Value) {
    match w {
        WEAK_NONE => vm.h.set_cdr(e, v),
        WEAK_KEY => holder_store(vm, e, 1, v),
        _ => holder_store(vm, cdr(e), 0, v),
    }
}

fn bucket_of(t: Value, k: Value) -> usize {
    let buckets = slot(t, 2);
    let mut budget = 64;
    (hash_value(k, table_equiv(t), &mut budget) % len(buckets) as u64) as usize
}

/// The live entry for `k`, if present.
fn lookup(vm: &mut Vm, t: Value, k: Value) -> Option<Value> {
    let (equiv, w) = (table_equiv(t), table_weakness(t));
    let mut l = slot(slot(t, 2), bucket_of(t, k));
    while l.is_pair() {
        let e = car(l);
        if entry_key(vm, w, e).is_some_and(|ek| same(ek, k, equiv)) && entry_value(vm, w, e).is_some() {
            return Some(e);
        }
        l = cdr(l);
    }
    None
}

fn new_table(vm: &mut Vm, a: usize, n: usize, weakness: i64) -> R<Value> {
    let mut kind_ = HT_EQUAL;
    if n > 0 {
        let f = arg(vm, a, 0);
        if f.is_prim() {
            kind_ = match vm.prims[f.prim_index()].name {
                "eq?" => HT_EQ,
                "eqv?" | "=" => HT_EQV,
                "string=?" => HT_STRING,
                _ => HT_EQUAL,
            };
        }
    }
    let buckets = vm.h.obj(&vm.r, Kind::Vector, 16, NIL)?;
    vm.make_obj(
        Kind::Table,
        &[Value::fix(kind_ | weakness << 4), Value::fix(0), buckets],
    )
}

fn p_make_hash_table(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    new_table(vm, a, n, WEAK_NONE)
}
fn p_make_weak_key_table(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    new_table(vm, a, n, WEAK_KEY)
}
fn p_make_weak_value_table(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    new_table(vm, a, n, WEAK_VALUE)
}
fn p_make_doubly_weak_table(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    new_table(vm, a, n, WEAK_BOTH)
}
fn p_hash_tablep(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    Ok(Value::bool(is_kind(arg(vm, a, 0), Kind::Table)))
}
fn p_ht_set(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-set!", arg(vm, a, 0))?;
    let (k, v) = (arg(vm, a, 1), arg(vm, a, 2));
    let w = table_weakness(t);
    if let Some(e) = lookup(vm, t, k) {
        entry_set_value(vm, w, e, v);
        return Ok(UNSPEC);
    }
    if slot(t, 1).fixval() as usize + 1 > 2 * len(slot(t, 2)) {
        rehash(vm, a)?;
    }
    let t = arg(vm, a, 0);
    let count = slot(t, 1).fixval() + 1;
    let e = make_entry(vm, w, k, v)?;
    vm.r.tmp.push(e);
    let b = bucket_of(t, k);
    let chain = slot(slot(t, 2), b);
    let cell = vm.h.pair(&vm.r, e, chain);
    vm.r.tmp.pop();
    let cell = cell?;
    let buckets = slot(t, 2);
    vm.h.set_slot(buckets, b, cell);
    vm.h.set_slot(t, 1, Value::fix(count));
    Ok(UNSPEC)
}
/// Rebuilds the buckets (four times as many, or as many if the live
/// entries fit), dropping dead entries; the count becomes exact.
fn rehash(vm: &mut Vm, a: usize) -> R<()> {
    let t = arg(vm, a, 0);
    let w = table_weakness(t);
    let old = slot(t, 2);
    let mut entries = Vec::new();
    for i in 0..len(old) {
        let mut l = slot(old, i);
        while l.is_pair() {
            let e = car(l);
            if entry_value(vm, w, e).is_some() {
                entries.push(e);
            }
            l = cdr(l);
        }
    }
    let n = if entries.len() + 1 > 2 * len(old) {
        len(old) * 4
    } else {
        len(old)
    };
    let nb = vm.h.obj(&vm.r, Kind::Vector, n, NIL)?;
    vm.r.tmp.push(nb);
    vm.h.set_slot(t, 2, nb);
    // The entries stay reachable from the old bucket vector, rooted here.
    vm.r.tmp.push(old);
    let mut live = 0;
    for e in entries {
        // An entry may have died since (a collection in the allocations).
        let Some(k) = entry_key(vm, w, e) else { continue };
        let b = bucket_of(t, k);
        let chain = slot(nb, b);
        let cell = vm.h.pair(&vm.r, e, chain);
        let cell = match cell {
            Ok(c) => c,
            Err(x) => {
                vm.r.tmp.truncate(vm.r.tmp.len() - 2);
                return Err(x);
            }
        };
        vm.h.set_slot(nb, b, cell);
        live += 1;
    }
    vm.h.set_slot(t, 1, Value::fix(live));
    vm.r.tmp.truncate(vm.r.tmp.len() - 2);
    Ok(())
}
fn p_ht_ref_default(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-ref/default", arg(vm, a, 0))?;
    let w = table_weakness(t);
    let e = lookup(vm, t, arg(vm, a, 1));
    Ok(e.and_then(|e| entry_value(vm, w, e)).unwrap_or(arg(vm, a, 2)))
}
fn p_ht_lookup(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-ref", arg(vm, a, 0))?;
    let w = table_weakness(t);
    let e = lookup(vm, t, arg(vm, a, 1));
    Ok(e.and_then(|e| entry_value(vm, w, e)).unwrap_or(ABSENT))
}
fn p_absent(_: &mut Vm, _: usize, _: usize) -> R<Value> {
    Ok(ABSENT)
}
fn p_ht_exists(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-exists?", arg(vm, a, 0))?;
    Ok(Value::bool(lookup(vm, t, arg(vm, a, 1)).is_some()))
}
fn p_ht_delete(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-delete!", arg(vm, a, 0))?;
    let k = arg(vm, a, 1);
    let (equiv, w) = (table_equiv(t), table_weakness(t));
    let b = bucket_of(t, k);
    let buckets = slot(t, 2);
    let mut prev = NIL;
    let mut l = slot(buckets, b);
    while l.is_pair() {
        let e = car(l);
        let dead = entry_value(vm, w, e).is_none();
        let hit = !dead && entry_key(vm, w, e).is_some_and(|ek| same(ek, k, equiv));
        if dead || hit {
            // Unlink it (dead entries are dropped on the way).
            if prev == NIL {
                vm.h.set_slot(buckets, b, cdr(l));
            } else {
                vm.h.set_cdr(prev, cdr(l));
            }
            let c = slot(t, 1).fixval() - 1;
            vm.h.set_slot(t, 1, Value::fix(c.max(0)));
            if hit {
                break;
            }
        } else {
            prev = l;
        }
        l = cdr(l);
    }
    Ok(UNSPEC)
}
fn p_ht_size(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-size", arg(vm, a, 0))?;
    if table_weakness(t) == WEAK_NONE {
        return Ok(slot(t, 1));
    }
    let mark = vm.r.tmp.len();
    let n = entries(vm, t).len();
    vm.r.tmp.truncate(mark);
    Ok(Value::fix(n as i64))
}
/// The live entries' keys and values, pushed onto `vm.r.tmp` (from
/// `mark` on, key then value) so they stay alive while the caller
/// allocates: a weak table's are held by nothing else.
fn entries(vm: &mut Vm, t: Value) -> Vec<(Value, Value)> {
    let w = table_weakness(t);
    let buckets = slot(t, 2);
    let mut out = Vec::new();
    for i in 0..len(buckets) {
        let mut l = slot(buckets, i);
        while l.is_pair() {
            let e = car(l);
            if let (Some(k), Some(v)) = (entry_key(vm, w, e), entry_value(vm, w, e)) {
                vm.r.tmp.push(k);
                vm.r.tmp.push(v);
                out.push((k, v));
            }
            l = cdr(l);
        }
    }
    out
}
fn p_ht_keys(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-keys", arg(vm, a, 0))?;
    let mark = vm.r.tmp.len();
    let ks: Vec<Value> = entries(vm, t).into_iter().map(|(k, _)| k).collect();
    let l = vm.list(&ks);
    vm.r.tmp.truncate(mark);
    l
}
fn p_ht_values(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-values", arg(vm, a, 0))?;
    let mark = vm.r.tmp.len();
    let vs: Vec<Value> = entries(vm, t).into_iter().map(|(_, v)| v).collect();
    let l = vm.list(&vs);
    vm.r.tmp.truncate(mark);
    l
}
fn p_ht_alist(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table->alist", arg(vm, a, 0))?;
    // Fresh pairs, so that the caller cannot mutate the table's entries.
    let mark = vm.r.tmp.len();
    let es = entries(vm, t);
    let mut copies = Vec::new();
    for (k, v) in es {
        let c = vm.cons(k, v);
        match c {
            Ok(c) => {
                vm.r.tmp.push(c);
                copies.push(c);
            }
            Err(x) => {
                vm.r.tmp.truncate(mark);
                return Err(x);
            }
        }
    }
    let l = vm.list(&copies);
    vm.r.tmp.truncate(mark);
    l
}
fn p_ht_clear(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let t = want_table(vm, "hash-table-clear!", arg(vm, a, 0))?;
    let b = slot(t, 2);
    for i in 0..len(b) {
        vm.h.set_slot(b, i, NIL);
    }
    vm.h.set_slot(t, 1, Value::fix(0));
    Ok(UNSPEC)
}
fn p_hash(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let mut budget = 64;
    Ok(Value::fix(
        (hash_value(arg(vm, a, 0), HT_EQUAL, &mut budget) >> 4) as i64,
    ))
}

/// `(string-hash s [bound])`: strings only (other objects would hash by
/// address, which is not a string hash).
fn p_string_hash(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let s = arg(vm, a, 0);
    if !is_kind(s, Kind::String) {
        return Err(vm.type_err("string-hash", "a string", s));
    }
    p_hash(vm, a, n)
}

// ---------------------------------------------------------------- system

fn p_exit(vm: &mut Vm, a: usize, n: usize) -> R<Value> {
    let code = if n == 0 {
        0
    } else {
        match arg(vm, a, 0) {
            TRUE => 0,
            FALSE => 1,
            // A status the process can report (0..=255) as itself; any
            // other value, including integers the OS would truncate (256
            // would read as success), is a failure.
            v => match v.as_fix() {
                Some(c @ 0..=255) => c as i32,
                _ => 1,
            },
        }
    };
    Err(SErr::Exit(code))
}
fn p_command_line(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    let args = vm.args.clone();
    let mut vals = Vec::new();
    let mark = vm.r.tmp.len();
    for s in &args {
        let v = vm.string(s);
        match v {
            Ok(v) => {
                vm.r.tmp.push(v);
                vals.push(v);
            }
            Err(e) => {
                vm.r.tmp.truncate(mark);
                return Err(e);
            }
        }
    }
    let l = vm.list(&vals);
    vm.r.tmp.truncate(mark);
    l
}
fn p_current_jiffy(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    Ok(Value::fix(vm.start.elapsed().as_micros() as i64))
}
fn p_jps(_: &mut Vm, _: usize, _: usize) -> R<Value> {
    Ok(Value::fix(1_000_000))
}
fn p_current_second(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    vm.flonum(t)
}
fn p_collect(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    vm.h.m.gc(&vm.r);
    Ok(UNSPEC)
}
/// `(%guardian-register token obj)`: the guardian whose identity is the
/// object `token` will return `obj` once it is unreachable (gc/src/weak.rs).
fn p_guardian_register(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let (token, obj) = (arg(vm, a, 0), arg(vm, a, 1));
    if !obj.is_immediate() {
        vm.h.m.guard(obj.raw(), token.raw());
    }
    Ok(UNSPEC)
}
/// `(%guardian-poll token)`: the next object the guardian returned, or #f.
fn p_guardian_poll(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    // The object was kept alive as a root of the guardian's queue until
    // now; returned, it is on the VM's stack before anything allocates.
    Ok(vm.h.m.poll_guardian(arg(vm, a, 0).raw()).map_or(FALSE, Value))
}
fn p_gc_stats(vm: &mut Vm, _: usize, _: usize) -> R<Value> {
    let s = vm.h.m.stats();
    let w = vm.h.m.gc_handle().last_cycle().weak;
    let fields: [(&str, u64); 15] = [
        ("heap-alloc", s.heap_alloc),
        ("heap-sys", s.heap_sys),
        ("heap-inuse", s.heap_inuse),
        ("heap-objects", s.heap_objects),
        ("mallocs", s.mallocs),
        ("frees", s.frees),
        ("num-gc", s.num_gc as u64),
        ("pause-total-ns", s.pause_total_ns),
        ("next-gc", s.next_gc),
        ("total-alloc", s.total_alloc),
        // What the last cycle's weak processing did.
        ("weak-cleared", w.weak_cleared),
        ("ephemerons-kept", w.ephemerons_kept),
        ("ephemerons-cleared", w.ephemerons_cleared),
        ("guarded-returned", w.guarded_returned),
        ("finalizers-queued", w.cleanups_queued),
    ];
    let mark = vm.r.tmp.len();
    let mut items = Vec::new();
    for (k, v) in fields {
        let r = (|| {
            let key = vm.intern(k)?;
            let val = super::num::int(vm, v.min(i64::MAX as u64) as i64)?;
            vm.cons(key, val)
        })();
        match r {
            Ok(p) => {
                vm.r.tmp.push(p);
                items.push(p);
            }
            Err(e) => {
                vm.r.tmp.truncate(mark);
                return Err(e);
            }
        }
    }
    let l = vm.list(&items);
    vm.r.tmp.truncate(mark);
    l
}
fn p_load_thunk(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    let f = arg(vm, a, 0);
    if !is_kind(f, Kind::String) {
        return Err(vm.type_err("load", "a file name", f));
    }
    let name = string_of(f);
    // The text becomes 4-byte characters: cap it by what the heap may hold.
    let text = crate::read_source_capped(&name, vm.request_cap / 4).map_err(|m| SErr::Kinded(m, CondKind::File))?;
    let chars: Vec<char> = text.chars().collect();
    let data = Reader::new(&chars, file_id(&name))
        .read_all()
        .map_err(|e| SErr::Kinded(format!("{}: {}", e.pos, e.msg), CondKind::Read))?;
    let mut body = vec![crate::reader::Datum::sym("begin")];
    body.extend(data);
    let form = crate::reader::Datum::list(body);
    vm.comp.proto_base = vm.protos.len();
    let p = match vm.comp.compile_toplevel(&form, "") {
        Ok(p) => p,
        Err(e) => {
            vm.comp.out.clear();
            return Err(SErr::Msg(format!("{}: {}", e.pos, e.msg)));
        }
    };
    vm.link()?;
    vm.h.obj(&vm.r, Kind::Closure, 1, Value::fix(p as i64))
}
fn p_void(_: &mut Vm, _: usize, _: usize) -> R<Value> {
    Ok(UNSPEC)
}
fn p_list_sort_merge(vm: &mut Vm, a: usize, _: usize) -> R<Value> {
    // Helper for the prelude's sort: list of numbers/strings sorted natively when
    // the predicate is < or string<?.
    let items = list_items(vm, "sort", arg(vm, a, 0))?;
    Ok(Value::fix(items.len() as i64))
}

pub const PRIMS: &[Prim] = &[
    Prim::new("display", 1, 2, F(p_display)),
    Prim::new("write", 1, 2, F(p_write)),
    Prim::new("write-shared", 1, 2, F(p_write)),
    Prim::new("write-simple", 1, 2, F(p_write)),
    Prim::new("newline", 0, 1, F(p_newline)),
    Prim::new("write-char", 1, 2, F(p_write_char)),
    Prim::new("write-string", 1, 2, F(p_write_string)),
    Prim::new("flush-output-port", 0, 1, F(p_flush)),
    Prim::new("open-input-string", 1, 1, F(p_open_input_string)),
    Prim::new("open-output-string", 0, 0, F(p_open_output_string)),
    Prim::new("get-output-string", 1, 1, F(p_get_output_string)),
    Prim::new("close-port", 1, 1, F(p_close_port)),
    Prim::new("close-input-port", 1, 1, F(p_close_port)),
    Prim::new("close-output-port", 1, 1, F(p_close_port)),
    Prim::new("port?", 1, 1, F(p_portp)),
    Prim::new("input-port?", 1, 1, F(p_portp)),
    Prim::new("output-port?", 1, 1, F(p_portp)),
    Prim::new("textual-port?", 1, 1, F(p_portp)),
    Prim::new("read-char", 0, 1, F(p_read_char)),
    Prim::new("peek-char", 0, 1, F(p_peek_char)),
    Prim::new("read-line", 0, 1, F(p_read_line)),
    Prim::new("read-string", 1, 2, F(p_read_string)),
    Prim::new("read", 0, 1, F(p_read)),
    Prim::new("char-ready?", 0, 1, F(p_char_ready)),
    Prim::new("eof-object", 0, 0, F(p_eof_object)),
    Prim::new("eof-object?", 1, 1, F(p_eof_objectp)),
    Prim::new("error", 1, u16::MAX, F(p_error)),
    Prim::new("raise", 1, 1, F(p_raise)),
    Prim::new("raise-continuable", 1, 1, F(p_raise_continuable)),
    Prim::new("%raise-continuable", 1, 1, F(p_raise_continuable)),
    Prim::new("%handler-returned", 1, 1, F(p_handler_returned)),
    Prim::new("error-object?", 1, 1, F(p_error_objectp)),
    Prim::new("error-object-message", 1, 1, F(p_error_message)),
    Prim::new("error-object-irritants", 1, 1, F(p_error_irritants)),
    Prim::new("file-error?", 1, 1, F(p_file_errorp)),
    Prim::new("read-error?", 1, 1, F(p_read_errorp)),
    Prim::new("%make-rtd", 2, 2, F(p_make_rtd)),
    Prim::new("%record", 1, u16::MAX, F(p_record)),
    Prim::new("%record?", 2, 2, F(p_recordp)),
    Prim::new("%record-ref", 4, 4, F(p_record_ref)),
    Prim::new("%record-set!", 5, 5, F(p_record_set)),
    Prim::new("%make-lazy", 1, 1, F(p_make_lazy)),
    Prim::new("%make-eager", 1, 1, F(p_make_eager)),
    Prim::new("promise?", 1, 1, F(p_promisep)),
    Prim::new("%promise-box", 1, 1, F(p_promise_box)),
    Prim::new("%promise-set-box!", 2, 2, F(p_promise_set_box)),
    Prim::new("%make-param", 2, 2, F(p_make_param)),
    Prim::new("%param-converter", 1, 1, F(p_param_converter)),
    Prim::new("%mv?", 1, 1, F(p_mvp)),
    Prim::new("%mv->list", 1, 1, F(p_mv_to_list)),
    Prim::new("%case-lambda", 0, u16::MAX, F(p_case_lambda)),
    Prim::new("make-hash-table", 0, 2, F(p_make_hash_table)),
    Prim::new("make-weak-key-hash-table", 0, 2, F(p_make_weak_key_table)),
    Prim::new("make-weak-value-hash-table", 0, 2, F(p_make_weak_value_table)),
    Prim::new("make-doubly-weak-hash-table", 0, 2, F(p_make_doubly_weak_table)),
    Prim::new("hash-table?", 1, 1, F(p_hash_tablep)),
    Prim::new("hash-table-set!", 3, 3, F(p_ht_set)),
    Prim::new("hash-table-ref/default", 3, 3, F(p_ht_ref_default)),
    Prim::new("%ht-lookup", 2, 2, F(p_ht_lookup)),
    Prim::new("%absent", 0, 0, F(p_absent)),
    Prim::new("hash-table-exists?", 2, 2, F(p_ht_exists)),
    Prim::new("hash-table-contains?", 2, 2, F(p_ht_exists)),
    Prim::new("hash-table-delete!", 2, 2, F(p_ht_delete)),
    Prim::new("hash-table-size", 1, 1, F(p_ht_size)),
    Prim::new("hash-table-count", 1, 1, F(p_ht_size)),
    Prim::new("hash-table-keys", 1, 1, F(p_ht_keys)),
    Prim::new("hash-table-values", 1, 1, F(p_ht_values)),
    Prim::new("hash-table->alist", 1, 1, F(p_ht_alist)),
    Prim::new("hash-table-clear!", 1, 1, F(p_ht_clear)),
    Prim::new("hash", 1, 2, F(p_hash)),
    Prim::new("string-hash", 1, 2, F(p_string_hash)),
    Prim::new("equal-hash", 1, 1, F(p_hash)),
    Prim::new("exit", 0, 1, F(p_exit)),
    Prim::new("emergency-exit", 0, 1, F(p_exit)),
    Prim::new("command-line", 0, 0, F(p_command_line)),
    Prim::new("current-jiffy", 0, 0, F(p_current_jiffy)),
    Prim::new("jiffies-per-second", 0, 0, F(p_jps)),
    Prim::new("current-second", 0, 0, F(p_current_second)),
    Prim::new("collect-garbage", 0, 0, F(p_collect)),
    Prim::new("gc-stats", 0, 0, F(p_gc_stats)),
    Prim::new("%guardian-register", 2, 2, F(p_guardian_register)),
    Prim::new("%guardian-poll", 1, 1, F(p_guardian_poll)),
    Prim::new("%load-thunk", 1, 1, F(p_load_thunk)),
    Prim::new("void", 0, u16::MAX, F(p_void)),
    Prim::new("%list-length", 1, 1, F(p_list_sort_merge)),
];
