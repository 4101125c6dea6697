//! The reader: source text to [`Datum`] trees carrying source positions
//! (file, line, column). Nesting is limited to [`MAX_DEPTH`] so that deeply
//! nested input gives a clear error instead of a native stack overflow.

use crate::numbers::Big;
use std::cell::RefCell;
use std::fmt;
use std::rc::Rc;

/// Deepest nesting of lists and vectors the reader (and compiler) accept.
pub const MAX_DEPTH: usize = 10_000;

thread_local! {
    static FILES: RefCell<Vec<String>> = RefCell::new(vec!["<unknown>".to_string()]);
}

/// Registers a file name and returns its id for [`Pos`].
pub fn file_id(name: &str) -> u32 {
    FILES.with(|f| {
        let mut f = f.borrow_mut();
        if let Some(i) = f.iter().position(|n| n == name) {
            return i as u32;
        }
        f.push(name.to_string());
        (f.len() - 1) as u32
    })
}

/// The name of a registered file.
pub fn file_name(id: u32) -> String {
    FILES.with(|f| f.borrow().get(id as usize).cloned().unwrap_or_default())
}

/// A source position.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Pos {
    pub file: u32,
    pub line: u32,
    pub col: u32,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", file_name(self.file), self.line, self.col)
    }
}

/// A datum read from source (or built by macro expansion).
#[derive(Clone, Debug)]
pub enum Datum {
    Bool(bool),
    Int(i64),
    Big(Big),
    Flo(f64),
    Char(char),
    Str(Rc<str>),
    Sym(Rc<str>),
    /// A proper or dotted list: elements, optional tail, position of `(`.
    List(Vec<Datum>, Option<Box<Datum>>, Pos),
    Vector(Vec<Datum>),
    Bytes(Vec<u8>),
    /// The unspecified value (used by expansions).
    Unspec,
}

/// Prefix of the interpreter's private names. The reader never produces a
/// symbol that starts with it (`#%` is not a token and `|#%...|` is
/// refused), so a name carrying it can only come from the interpreter
/// itself: the prelude's definitions and references (see
/// `Compiler::global_name`), the helpers that derived syntax expands into,
/// and the temporaries it binds. User code can neither call, rebind nor
/// capture them.
pub const PRIVATE_PREFIX: &str = "#%";

/// The private spelling of `name`.
pub fn private(name: &str) -> String {
    format!("{PRIVATE_PREFIX}{name}")
}

impl Datum {
    pub fn sym(s: &str) -> Datum {
        Datum::Sym(Rc::from(s))
    }
    /// A reference to the private name of `s` (see [`PRIVATE_PREFIX`]).
    pub fn psym(s: &str) -> Datum {
        Datum::Sym(Rc::from(private(s).as_str()))
    }
    pub fn list(v: Vec<Datum>) -> Datum {
        Datum::List(v, None, Pos::default())
    }
    pub fn list_at(v: Vec<Datum>, pos: Pos) -> Datum {
        Datum::List(v, None, pos)
    }
    pub fn nil() -> Datum {
        Datum::List(vec![], None, Pos::default())
    }
    pub fn as_sym(&self) -> Option<&str> {
        match self {
            Datum::Sym(s) => Some(s),
            _ => None,
        }
    }
    pub fn is_sym(&self, s: &str) -> bool {
        self.as_sym() == Some(s)
    }
    /// Elements of a proper list.
    pub fn as_list(&self) -> Option<&[Datum]> {
        match self {
            Datum::List(v, None, _) => Some(v),
            _ => None,
        }
    }
    pub fn pos(&self) -> Option<Pos> {
        match self {
            Datum::List(_, _, p) if p.line > 0 => Some(*p),
            _ => None,
        }
    }
}

/// A syntax error with its position.
#[derive(Clone, Debug)]
pub struct ReadError {
    pub pos: Pos,
    pub msg: String,
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.pos, self.msg)
    }
}

/// A reader over one source text.
#[derive(Debug)]
pub struct Reader<'a> {
    src: &'a [char],
    i: usize,
    line: u32,
    col: u32,
    file: u32,
}

fn is_delim(c: char) -> bool {
    c.is_whitespace() || matches!(c, '(' | ')' | '[' | ']' | '"' | ';' | '\'' | '`' | ',')
}

impl<'a> Reader<'a> {
    pub fn new(src: &'a [char], file: u32) -> Reader<'a> {
        Reader {
            src,
            i: 0,
            line: 1,
            col: 1,
            file,
        }
    }

    /// Characters consumed so far.
    pub fn consumed(&self) -> usize {
        self.i
    }

    fn pos(&self) -> Pos {
        Pos {
            file: self.file,
            line: self.line,
            col: self.col,
        }
    }

    fn peek(&self) -> Option<char> {
        self.src.get(self.i).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.src.get(self.i).copied()?;
        self.i += 1;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn error<T>(&self, pos: Pos, msg: impl Into<String>) -> Result<T, ReadError> {
        Err(ReadError { pos, msg: msg.into() })
    }

    /// Skips whitespace and comments.
    fn skip(&mut self, depth: usize) -> Result<(), ReadError> {
        loop {
            match self.peek() {
                Some(c) if c.is_whitespace() => {
                    self.next();
                }
                Some(';') => {
                    while let Some(c) = self.next() {
                        if c == '\n' {
                            break;
                        }
                    }
                }
                Some('#') if self.src.get(self.i + 1) == Some(&'|') => {
                    let start = self.pos();
                    self.next();
                    self.next();
                    let mut level = 1;
                    while level > 0 {
                        match self.next() {
                            None => return self.error(start, "unterminated block comment"),
                            Some('|') if self.peek() == Some('#') => {
                                self.next();
                                level -= 1;
                            }
                            Some('#') if self.peek() == Some('|') => {
                                self.next();
                                level += 1;
                            }
                            _ => {}
                        }
                    }
                }
                Some('#') if self.src.get(self.i + 1) == Some(&';') => {
                    self.next();
                    self.next();
                    self.read_inner(depth)?;
                }
                _ => return Ok(()),
            }
        }
    }

    /// Reads the next datum, or None at end of input.
    pub fn read(&mut self) -> Result<Option<Datum>, ReadError> {
        self.skip(0)?;
        if self.peek().is_none() {
            return Ok(None);
        }
        self.read_inner(0).map(Some)
    }

    /// Reads every datum of the text.
    pub fn read_all(&mut self) -> Result<Vec<Datum>, ReadError> {
        let mut out = Vec::new();
        while let Some(d) = self.read()? {
            out.push(d);
        }
        Ok(out)
    }

    fn read_inner(&mut self, depth: usize) -> Result<Datum, ReadError> {
        if depth > MAX_DEPTH {
            return self.error(self.pos(), format!("nesting deeper than {MAX_DEPTH} levels"));
        }
        self.skip(depth)?;
        let pos = self.pos();
        let c = match self.next() {
            None => return self.error(pos, "unexpected end of input"),
            Some(c) => c,
        };
        match c {
            '(' | '[' => self.read_list(pos, if c == '(' { ')' } else { ']' }, depth),
            ')' | ']' => self.error(pos, format!("unexpected '{c}'")),
            '\'' => self.quoted("quote", pos, depth),
            '`' => self.quoted("quasiquote", pos, depth),
            ',' => {
                if self.peek() == Some('@') {
                    self.next();
                    self.quoted("unquote-splicing", pos, depth)
                } else {
                    self.quoted("unquote", pos, depth)
                }
            }
            '"' => self.read_string(pos),
            '#' => self.read_hash(pos, depth),
            '|' => {
                let mut s = String::new();
                loop {
                    match self.next() {
                        None => return self.error(pos, "unterminated |symbol|"),
                        Some('|') => break,
                        Some(c) => s.push(c),
                    }
                }
                if s.starts_with(PRIVATE_PREFIX) {
                    return self.error(pos, format!("symbols starting with {PRIVATE_PREFIX} are reserved"));
                }
                Ok(Datum::Sym(Rc::from(s.as_str())))
            }
            _ => {
                let mut s = String::new();
                s.push(c);
                self.take_token(&mut s);
                if let Some(n) = parse_number(&s, 10) {
                    return Ok(n);
                }
                if s == "." {
                    return self.error(pos, "unexpected '.'");
                }
                if s.chars().any(|c| c.is_control()) {
                    return self.error(pos, "invalid character in input (binary file?)");
                }
                Ok(Datum::Sym(Rc::from(s.as_str())))
            }
        }
    }

    fn quoted(&mut self, name: &str, pos: Pos, depth: usize) -> Result<Datum, ReadError> {
        let d = self.read_inner(depth + 1)?;
        Ok(Datum::List(vec![Datum::sym(name), d], None, pos))
    }

    fn read_list(&mut self, pos: Pos, close: char, depth: usize) -> Result<Datum, ReadError> {
        let mut items = Vec::new();
        loop {
            self.skip(depth)?;
            match self.peek() {
                None => return self.error(pos, "unterminated list (missing ')')"),
                Some(c) if c == ')' || c == ']' => {
                    self.next();
                    if c != close {
                        return self.error(pos, format!("list opened here closed by '{c}'"));
                    }
                    return Ok(Datum::List(items, None, pos));
                }
                Some('.') if self.src.get(self.i + 1).is_none_or(|&c| is_delim(c)) && !items.is_empty() => {
                    self.next();
                    let tail = self.read_inner(depth + 1)?;
                    self.skip(depth)?;
                    match self.next() {
                        Some(c) if c == close => return Ok(Datum::List(items, Some(Box::new(tail)), pos)),
                        None => return self.error(pos, "unterminated list (missing ')')"),
                        _ => return self.error(self.pos(), "expected ')' after dotted tail"),
                    }
                }
                _ => items.push(self.read_inner(depth + 1)?),
            }
        }
    }

    /// Appends characters to `s` up to the next delimiter.
    fn take_token(&mut self, s: &mut String) {
        while let Some(c) = self.peek() {
            if is_delim(c) {
                break;
            }
            s.push(c);
            self.next();
        }
    }

    fn read_string(&mut self, pos: Pos) -> Result<Datum, ReadError> {
        let mut s = String::new();
        loop {
            match self.next() {
                None => return self.error(pos, "unterminated string"),
                Some('"') => return Ok(Datum::Str(Rc::from(s.as_str()))),
                Some('\\') => match self.next() {
                    None => return self.error(pos, "unterminated string"),
                    Some('n') => s.push('\n'),
                    Some('t') => s.push('\t'),
                    Some('r') => s.push('\r'),
                    Some('a') => s.push('\u{7}'),
                    Some('b') => s.push('\u{8}'),
                    Some('0') => s.push('\0'),
                    Some('x') | Some('X') => {
                        let mut h = String::new();
                        loop {
                            match self.next() {
                                Some(';') => break,
                                Some(c) if c.is_ascii_hexdigit() => h.push(c),
                                _ => return self.error(pos, "bad \\x escape in string"),
                            }
                        }
                        match u32::from_str_radix(&h, 16).ok().and_then(char::from_u32) {
                            Some(c) => s.push(c),
                            None => return self.error(pos, "bad \\x escape in string"),
                        }
                    }
                    Some(c) if c == '\n' || c == ' ' || c == '\t' => {
                        // line continuation: skip trailing and leading whitespace
                        let mut saw_nl = c == '\n';
                        while let Some(c) = self.peek() {
                            if c == '\n' && !saw_nl {
                                saw_nl = true;
                                self.next();
                            } else if c == ' ' || c == '\t' {
                                self.next();
                            } else {
                                break;
                            }
                        }
                    }
                    Some(c @ ('"' | '\\' | '|')) => s.push(c),
                    Some(c) => return self.error(pos, format!("unknown escape \\{c} in string")),
                },
                Some(c) => s.push(c),
            }
        }
    }

    fn read_hash(&mut self, pos: Pos, depth: usize) -> Result<Datum, ReadError> {
        match self.peek() {
            Some('(') => {
                self.next();
                match self.read_list(pos, ')', depth)? {
                    Datum::List(v, None, _) => Ok(Datum::Vector(v)),
                    _ => self.error(pos, "bad vector syntax"),
                }
            }
            Some('\\') => {
                self.next();
                let mut s = String::new();
                if let Some(c) = self.next() {
                    s.push(c);
                }
                self.take_token(&mut s);
                if s.chars().count() == 1 {
                    return Ok(Datum::Char(s.chars().next().unwrap_or(' ')));
                }
                let c = match s.to_lowercase().as_str() {
                    "space" => ' ',
                    "newline" | "linefeed" | "nl" => '\n',
                    "tab" => '\t',
                    "nul" | "null" => '\0',
                    "return" => '\r',
                    "alarm" => '\u{7}',
                    "backspace" => '\u{8}',
                    "delete" | "rubout" => '\u{7f}',
                    "escape" | "altmode" => '\u{1b}',
                    x if x.starts_with('x') && x.len() > 1 => {
                        match u32::from_str_radix(&x[1..], 16).ok().and_then(char::from_u32) {
                            Some(c) => c,
                            None => return self.error(pos, format!("unknown character #\\{s}")),
                        }
                    }
                    _ => return self.error(pos, format!("unknown character #\\{s}")),
                };
                Ok(Datum::Char(c))
            }
            _ => {
                let mut s = String::new();
                while let Some(c) = self.peek() {
                    if is_delim(c) && !(s == "u8" && c == '(') {
                        break;
                    }
                    if s == "u8" && c == '(' {
                        break;
                    }
                    s.push(c);
                    self.next();
                }
                match s.as_str() {
                    "t" | "true" => Ok(Datum::Bool(true)),
                    "f" | "false" => Ok(Datum::Bool(false)),
                    "u8" if self.peek() == Some('(') => {
                        self.next();
                        let items = match self.read_list(pos, ')', depth)? {
                            Datum::List(v, None, _) => v,
                            _ => return self.error(pos, "bad bytevector syntax"),
                        };
                        let mut b = Vec::new();
                        for d in items {
                            match d {
                                Datum::Int(n) if (0..256).contains(&n) => b.push(n as u8),
                                _ => return self.error(pos, "bytevector elements must be bytes"),
                            }
                        }
                        Ok(Datum::Bytes(b))
                    }
                    "!eof" => Ok(Datum::Sym(Rc::from("#!eof"))),
                    "!default" | "!optional" | "!unspecific" => Ok(Datum::Unspec),
                    _ => {
                        let full = format!("#{s}");
                        match parse_number(&full, 10) {
                            Some(n) => Ok(n),
                            None => self.error(pos, format!("bad syntax '{full}'")),
                        }
                    }
                }
            }
        }
    }
}

/// Parses a number literal (with optional `#x #b #o #d #e #i` prefixes).
pub fn parse_number(s: &str, radix: u32) -> Option<Datum> {
    let mut radix = radix;
    let mut exact: Option<bool> = None;
    let mut s = s;
    if !(2..=36).contains(&radix) {
        return None;
    }
    while let Some(rest) = s.strip_prefix('#') {
        match rest.chars().next()? {
            'x' | 'X' => radix = 16,
            'b' | 'B' => radix = 2,
            'o' | 'O' => radix = 8,
            'd' | 'D' => radix = 10,
            'e' | 'E' => exact = Some(true),
            'i' | 'I' => exact = Some(false),
            _ => return None,
        }
        s = &rest[1..];
    }
    let d = parse_real(s, radix)?;
    match (exact, d) {
        (Some(false), Datum::Int(n)) => Some(Datum::Flo(n as f64)),
        (Some(false), Datum::Big(b)) => Some(Datum::Flo(b.to_f64())),
        (Some(true), Datum::Flo(x)) if x.fract() == 0.0 && x.is_finite() => {
            let b = Big::from_f64(x);
            Some(b.to_i64().map_or(Datum::Big(b), Datum::Int))
        }
        (_, d) => Some(d),
    }
}

fn parse_real(s: &str, radix: u32) -> Option<Datum> {
    match s {
        "+inf.0" => return Some(Datum::Flo(f64::INFINITY)),
        "-inf.0" => return Some(Datum::Flo(f64::NEG_INFINITY)),
        "+nan.0" | "-nan.0" => return Some(Datum::Flo(f64::NAN)),
        _ => {}
    }
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    if body.is_empty() {
        return None;
    }
    if body.chars().all(|c| c.is_digit(radix)) {
        if let Ok(n) = i64::from_str_radix(s, radix) {
            return Some(Datum::Int(n));
        }
        let b = Big::parse(s, radix)?;
        return Some(b.to_i64().map_or(Datum::Big(b), Datum::Int));
    }
    if radix == 10 {
        if let Some((n, d)) = s.split_once('/') {
            let n: f64 = match parse_real(n, 10)? {
                Datum::Int(n) => n as f64,
                _ => return None,
            };
            let d: f64 = match parse_real(d, 10)? {
                Datum::Int(d) => d as f64,
                _ => return None,
            };
            return Some(Datum::Flo(n / d));
        }
        let ok = body
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'))
            && body.chars().next().is_some_and(|c| c.is_ascii_digit() || c == '.')
            && body.chars().any(|c| c.is_ascii_digit());
        if ok {
            if let Ok(x) = s.parse::<f64>() {
                return Some(Datum::Flo(x));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(s: &str) -> Result<Vec<Datum>, ReadError> {
        let chars: Vec<char> = s.chars().collect();
        Reader::new(&chars, 0).read_all()
    }

    #[test]
    fn reads_basic_data() {
        let d = read("(a . b) #(1 2) \"x\\ny\" #\\space 12345678901234567890123 -1.5 #t").unwrap();
        assert_eq!(d.len(), 7);
        assert!(matches!(&d[0], Datum::List(v, Some(_), _) if v.len() == 1));
        assert!(matches!(&d[1], Datum::Vector(v) if v.len() == 2));
        assert!(matches!(&d[2], Datum::Str(s) if &**s == "x\ny"));
        assert!(matches!(d[3], Datum::Char(' ')));
        assert!(matches!(d[4], Datum::Big(_)));
        assert!(matches!(d[5], Datum::Flo(x) if x == -1.5));
        assert!(matches!(d[6], Datum::Bool(true)));
    }

    #[test]
    fn positions_and_errors() {
        let d = read("\n  (foo)").unwrap();
        assert_eq!(d[0].pos().map(|p| (p.line, p.col)), Some((2, 3)));
        let e = read("(a (b c)").unwrap_err();
        assert!(e.msg.contains("unterminated list"), "{}", e.msg);
        let e = read("\"abc").unwrap_err();
        assert!(e.msg.contains("unterminated string"));
        let deep = "(".repeat(20000);
        let e = std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn(move || read(&deep).unwrap_err())
            .unwrap()
            .join()
            .unwrap();
        assert!(e.msg.contains("nesting"), "{}", e.msg);
        assert!(read(")").is_err());
        assert!(read("#|x|# #;(a b) 1").unwrap().len() == 1);
    }

    #[test]
    fn numbers() {
        assert!(matches!(parse_number("#xff", 10), Some(Datum::Int(255))));
        assert!(matches!(parse_number("1e3", 10), Some(Datum::Flo(x)) if x == 1000.0));
        assert!(parse_number("abc", 10).is_none());
        assert!(parse_number("-", 10).is_none());
        assert!(parse_number("...", 10).is_none());
    }
}
