//! The printer: `write` and `display` representations of every value.
//! Lists are walked iteratively along their cdrs; nesting along cars is
//! capped at [`MAX_PRINT_DEPTH`] (deeper parts print as `...`).
//!
//! The printer reads the heap only: the names of procedures, which live in
//! the VM's tables, come through the [`ProcNames`] trait, so this module
//! does not depend on vm.rs (the VM's `write_string` calls in here).

use crate::heap::*;
use crate::numbers::flo_to_string;
use crate::value::*;

/// Where the printer finds procedure names.
pub trait ProcNames {
    /// The name of builtin number `i`.
    fn prim_name(&self, i: usize) -> Option<&str>;
    /// The name of compiled procedure `i` ("" if anonymous).
    fn proto_name(&self, i: usize) -> Option<&str>;
}

/// About how many bytes of a value error messages show.
pub const SHORT_LEN: usize = 300;

/// Deepest car-nesting the printer descends into.
pub const MAX_PRINT_DEPTH: usize = 10_000;

/// The `write` name of a character.
pub fn char_name(c: char) -> String {
    match c {
        ' ' => "space".into(),
        '\n' => "newline".into(),
        '\t' => "tab".into(),
        '\r' => "return".into(),
        '\0' => "null".into(),
        '\u{7}' => "alarm".into(),
        '\u{8}' => "backspace".into(),
        '\u{7f}' => "delete".into(),
        '\u{1b}' => "escape".into(),
        c if c.is_control() => format!("x{:x}", c as u32),
        c => c.to_string(),
    }
}

fn write_str_lit(out: &mut String, s: Value, limit: usize) {
    out.push('"');
    for i in 0..len(s) {
        if out.len() >= limit {
            return;
        }
        match str_char(s, i) {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => out.push_str(&format!("\\x{:x};", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The printed representation of `v` (`display` style when `display`),
/// stopping once it holds `limit` bytes.
pub fn print_value(names: &dyn ProcNames, v: Value, display: bool, limit: usize) -> String {
    let mut s = String::new();
    Printer { names }.print(&mut s, v, display, 0, limit);
    s
}

/// The representation cut to about [`SHORT_LEN`] bytes (ending in `...`
/// when cut): what error messages show of a value, so a huge or circular
/// one cannot make a message of megabytes.
pub fn print_short(names: &dyn ProcNames, v: Value, display: bool) -> String {
    let mut s = print_value(names, v, display, SHORT_LEN);
    if s.len() >= SHORT_LEN {
        let mut end = SHORT_LEN;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
    s
}

struct Printer<'a> {
    names: &'a dyn ProcNames,
}

impl Printer<'_> {
    /// Appends `v`'s representation to `out`, stopping once `out` holds
    /// `limit` bytes.
    fn print(&self, out: &mut String, v: Value, display: bool, depth: usize, limit: usize) {
        if out.len() >= limit {
            return;
        }
        if depth > MAX_PRINT_DEPTH {
            out.push_str("...");
            return;
        }
        if v.is_fix() {
            out.push_str(&v.fixval().to_string());
            return;
        }
        if v.is_pair() {
            // quote forms
            if cdr(v).is_pair() && cdr(cdr(v)) == NIL && is_kind(car(v), Kind::Symbol) {
                let q = match sym_name(car(v)) {
                    "quote" => Some("'"),
                    "quasiquote" => Some("`"),
                    "unquote" => Some(","),
                    "unquote-splicing" => Some(",@"),
                    _ => None,
                };
                if let Some(q) = q {
                    out.push_str(q);
                    self.print(out, car(cdr(v)), display, depth + 1, limit);
                    return;
                }
            }
            out.push('(');
            let mut x = v;
            let mut first = true;
            let mut count = 0usize;
            while x.is_pair() {
                if out.len() >= limit {
                    x = NIL;
                    break;
                }
                if !first {
                    out.push(' ');
                }
                first = false;
                self.print(out, car(x), display, depth + 1, limit);
                x = cdr(x);
                count += 1;
                if count > 10_000_000 {
                    out.push_str(" ...");
                    x = NIL;
                    break;
                }
            }
            if x != NIL && out.len() < limit {
                out.push_str(" . ");
                self.print(out, x, display, depth + 1, limit);
            }
            out.push(')');
            return;
        }
        if v.is_flonum() {
            out.push_str(&flo_to_string(flo(v)));
            return;
        }
        if let Some(c) = v.as_char() {
            if display {
                out.push(c);
            } else {
                out.push_str("#\\");
                out.push_str(&char_name(c));
            }
            return;
        }
        if v.is_prim() {
            out.push_str("#<procedure ");
            out.push_str(self.names.prim_name(v.prim_index()).unwrap_or("?"));
            out.push('>');
            return;
        }
        match v {
            FALSE => return out.push_str("#f"),
            TRUE => return out.push_str("#t"),
            NIL => return out.push_str("()"),
            UNSPEC => return out.push_str("#<unspecified>"),
            EOF => return out.push_str("#<eof>"),
            DEFAULT => return out.push_str("#<default>"),
            UNBOUND => return out.push_str("#<unbound>"),
            _ => {}
        }
        let Some(k) = kind(v) else {
            out.push_str(&format!("#<unknown {:#x}>", v.raw()));
            return;
        };
        match k {
            Kind::String => {
                if display {
                    for i in 0..len(v) {
                        if out.len() >= limit {
                            break;
                        }
                        out.push(str_char(v, i));
                    }
                } else {
                    write_str_lit(out, v, limit)
                }
            }
            Kind::Symbol => {
                let n = sym_name(v);
                if !display && (n.is_empty() || n.chars().any(|c| c.is_whitespace() || "()|\"';`,".contains(c))) {
                    out.push('|');
                    out.push_str(n);
                    out.push('|');
                } else {
                    out.push_str(n)
                }
            }
            Kind::Vector => {
                out.push_str("#(");
                for i in 0..len(v) {
                    if out.len() >= limit {
                        break;
                    }
                    if i > 0 {
                        out.push(' ');
                    }
                    self.print(out, slot(v, i), display, depth + 1, limit);
                }
                out.push(')');
            }
            Kind::Bytevector => {
                out.push_str("#u8(");
                let b = bytes(v);
                for (i, x) in b.iter().enumerate() {
                    if out.len() >= limit {
                        break;
                    }
                    if i > 0 {
                        out.push(' ');
                    }
                    out.push_str(&x.to_string());
                }
                out.push(')');
            }
            Kind::Bignum => out.push_str(&big_of(v).to_string_radix(10)),
            Kind::Closure => match self.names.proto_name(slot(v, 0).fixval() as usize) {
                Some(name) if !name.is_empty() => out.push_str(&format!("#<procedure {name}>")),
                _ => out.push_str("#<procedure>"),
            },
            Kind::CaseLambda => out.push_str("#<procedure case-lambda>"),
            Kind::Cont => out.push_str("#<continuation>"),
            Kind::Param => out.push_str("#<parameter>"),
            Kind::Box => out.push_str("#<box>"),
            Kind::Values => {
                for i in 0..len(v) {
                    if out.len() >= limit {
                        break;
                    }
                    if i > 0 {
                        out.push(' ');
                    }
                    self.print(out, slot(v, i), display, depth + 1, limit);
                }
            }
            Kind::Record => {
                let rtd = slot(v, 0);
                out.push_str("#<");
                self.print(out, slot(rtd, 0), true, depth + 1, limit);
                let fields = slot(rtd, 1);
                let mut f = fields;
                let mut i = 1;
                // The descriptor's field list, bounded by the object's own
                // length.
                while f.is_pair() && i < len(v) && out.len() < limit {
                    out.push(' ');
                    self.print(out, slot(v, i), display, depth + 1, limit);
                    f = cdr(f);
                    i += 1;
                }
                out.push('>');
            }
            Kind::Rtd => {
                out.push_str("#<record-type ");
                self.print(out, slot(v, 0), true, depth + 1, limit);
                out.push('>');
            }
            Kind::Table => out.push_str(&format!("#<hash-table {}>", slot(v, 1).fixval())),
            Kind::Promise => out.push_str("#<promise>"),
            Kind::Error => {
                out.push_str("#<error ");
                self.print(out, slot(v, 0), false, depth + 1, limit);
                out.push('>');
            }
            Kind::Port => out.push_str("#<port>"),
        }
    }
}
