//! The scanner: source bytes to tokens, on demand, one token per call.
//!
//! Lox source is scanned as bytes, exactly as clox scans its `char*`
//! buffer: identifiers are ASCII letters, digits and `_`; any other byte
//! outside a string literal is "Unexpected character."; string literals
//! run to the next `"` with no escapes and may span lines; a NUL byte ends
//! the input (clox's buffer is a C string, so it stops at the first NUL).
//! Tokens borrow their lexemes from the source, and error tokens carry
//! their message in place of a lexeme, as clox's do.

/// The kinds of token, in clox's order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    // Single-character tokens.
    LeftParen,
    RightParen,
    LeftBrace,
    RightBrace,
    Comma,
    Dot,
    Minus,
    Plus,
    Semicolon,
    Slash,
    Star,
    // One or two character tokens.
    Bang,
    BangEqual,
    Equal,
    EqualEqual,
    Greater,
    GreaterEqual,
    Less,
    LessEqual,
    // Literals.
    Identifier,
    String,
    Number,
    // Keywords.
    And,
    Class,
    Else,
    False,
    For,
    Fun,
    If,
    Nil,
    Or,
    Print,
    Return,
    Super,
    This,
    True,
    Var,
    While,
    /// A scanning error; the token's lexeme is the message.
    Error,
    Eof,
}

/// One token: its kind, its lexeme (or an error message) and its line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Token<'src> {
    pub kind: TokenKind,
    pub lexeme: &'src [u8],
    pub line: u32,
}

/// Scans tokens out of a source buffer.
#[derive(Debug)]
pub struct Scanner<'src> {
    source: &'src [u8],
    start: usize,
    current: usize,
    line: u32,
}

fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || c == b'_'
}

impl<'src> Scanner<'src> {
    /// A scanner at the start of `source`, line 1. Input ends at the end of
    /// the slice or at its first NUL byte, whichever comes first.
    pub fn new(source: &'src [u8]) -> Scanner<'src> {
        let end = source.iter().position(|&b| b == 0).unwrap_or(source.len());
        Scanner {
            source: &source[..end],
            start: 0,
            current: 0,
            line: 1,
        }
    }

    fn is_at_end(&self) -> bool {
        self.current >= self.source.len()
    }

    fn advance(&mut self) -> u8 {
        let c = self.source[self.current];
        self.current += 1;
        c
    }

    fn peek(&self) -> u8 {
        self.source.get(self.current).copied().unwrap_or(0)
    }

    fn peek_next(&self) -> u8 {
        self.source.get(self.current + 1).copied().unwrap_or(0)
    }

    fn matches(&mut self, expected: u8) -> bool {
        if self.is_at_end() || self.source[self.current] != expected {
            return false;
        }
        self.current += 1;
        true
    }

    fn make(&self, kind: TokenKind) -> Token<'src> {
        Token {
            kind,
            lexeme: &self.source[self.start..self.current],
            line: self.line,
        }
    }

    fn error(&self, message: &'static str) -> Token<'src> {
        Token {
            kind: TokenKind::Error,
            lexeme: message.as_bytes(),
            line: self.line,
        }
    }

    fn skip_whitespace(&mut self) {
        loop {
            match self.peek() {
                b' ' | b'\r' | b'\t' => {
                    self.advance();
                }
                b'\n' => {
                    self.line += 1;
                    self.advance();
                }
                b'/' if self.peek_next() == b'/' => {
                    while self.peek() != b'\n' && !self.is_at_end() {
                        self.advance();
                    }
                }
                _ => return,
            }
        }
    }

    fn identifier_kind(&self) -> TokenKind {
        match &self.source[self.start..self.current] {
            b"and" => TokenKind::And,
            b"class" => TokenKind::Class,
            b"else" => TokenKind::Else,
            b"false" => TokenKind::False,
            b"for" => TokenKind::For,
            b"fun" => TokenKind::Fun,
            b"if" => TokenKind::If,
            b"nil" => TokenKind::Nil,
            b"or" => TokenKind::Or,
            b"print" => TokenKind::Print,
            b"return" => TokenKind::Return,
            b"super" => TokenKind::Super,
            b"this" => TokenKind::This,
            b"true" => TokenKind::True,
            b"var" => TokenKind::Var,
            b"while" => TokenKind::While,
            _ => TokenKind::Identifier,
        }
    }

    fn identifier(&mut self) -> Token<'src> {
        while is_alpha(self.peek()) || self.peek().is_ascii_digit() {
            self.advance();
        }
        self.make(self.identifier_kind())
    }

    fn number(&mut self) -> Token<'src> {
        while self.peek().is_ascii_digit() {
            self.advance();
        }
        if self.peek() == b'.' && self.peek_next().is_ascii_digit() {
            self.advance();
            while self.peek().is_ascii_digit() {
                self.advance();
            }
        }
        self.make(TokenKind::Number)
    }

    fn string(&mut self) -> Token<'src> {
        while self.peek() != b'"' && !self.is_at_end() {
            if self.peek() == b'\n' {
                self.line += 1;
            }
            self.advance();
        }
        if self.is_at_end() {
            return self.error("Unterminated string.");
        }
        self.advance();
        self.make(TokenKind::String)
    }

    /// The next token; `Eof` forever once the input is exhausted.
    pub fn scan_token(&mut self) -> Token<'src> {
        self.skip_whitespace();
        self.start = self.current;
        if self.is_at_end() {
            return self.make(TokenKind::Eof);
        }
        let c = self.advance();
        if is_alpha(c) {
            return self.identifier();
        }
        if c.is_ascii_digit() {
            return self.number();
        }
        let kind = match c {
            b'(' => TokenKind::LeftParen,
            b')' => TokenKind::RightParen,
            b'{' => TokenKind::LeftBrace,
            b'}' => TokenKind::RightBrace,
            b';' => TokenKind::Semicolon,
            b',' => TokenKind::Comma,
            b'.' => TokenKind::Dot,
            b'-' => TokenKind::Minus,
            b'+' => TokenKind::Plus,
            b'/' => TokenKind::Slash,
            b'*' => TokenKind::Star,
            b'!' if self.matches(b'=') => TokenKind::BangEqual,
            b'!' => TokenKind::Bang,
            b'=' if self.matches(b'=') => TokenKind::EqualEqual,
            b'=' => TokenKind::Equal,
            b'<' if self.matches(b'=') => TokenKind::LessEqual,
            b'<' => TokenKind::Less,
            b'>' if self.matches(b'=') => TokenKind::GreaterEqual,
            b'>' => TokenKind::Greater,
            b'"' => return self.string(),
            _ => return self.error("Unexpected character."),
        };
        self.make(kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<(TokenKind, String, u32)> {
        let mut s = Scanner::new(src.as_bytes());
        let mut out = Vec::new();
        loop {
            let t = s.scan_token();
            out.push((t.kind, String::from_utf8_lossy(t.lexeme).into_owned(), t.line));
            if t.kind == TokenKind::Eof {
                return out;
            }
        }
    }

    #[test]
    fn punctuation_operators_and_keywords() {
        use TokenKind::*;
        let k: Vec<TokenKind> = kinds("(){};,.-+/* ! != = == > >= < <= and class else false for fun if nil or print return super this true var while andy _x1")
            .into_iter()
            .map(|t| t.0)
            .collect();
        assert_eq!(
            k,
            vec![
                LeftParen,
                RightParen,
                LeftBrace,
                RightBrace,
                Semicolon,
                Comma,
                Dot,
                Minus,
                Plus,
                Slash,
                Star,
                Bang,
                BangEqual,
                Equal,
                EqualEqual,
                Greater,
                GreaterEqual,
                Less,
                LessEqual,
                And,
                Class,
                Else,
                False,
                For,
                Fun,
                If,
                Nil,
                Or,
                Print,
                Return,
                Super,
                This,
                True,
                Var,
                While,
                Identifier,
                Identifier,
                Eof
            ]
        );
    }

    #[test]
    fn numbers_strings_comments_and_lines() {
        let t = kinds("12.5 7. .5 // comment\n\"a\nb\" x");
        assert_eq!(t[0], (TokenKind::Number, "12.5".into(), 1));
        assert_eq!(t[1], (TokenKind::Number, "7".into(), 1));
        assert_eq!(t[2], (TokenKind::Dot, ".".into(), 1));
        assert_eq!(t[3], (TokenKind::Dot, ".".into(), 1));
        assert_eq!(t[4], (TokenKind::Number, "5".into(), 1));
        assert_eq!(t[5], (TokenKind::String, "\"a\nb\"".into(), 3));
        assert_eq!(t[6], (TokenKind::Identifier, "x".into(), 3));
    }

    #[test]
    fn errors_and_nul() {
        let t = kinds("@ \"open");
        assert_eq!(t[0], (TokenKind::Error, "Unexpected character.".into(), 1));
        assert_eq!(t[1], (TokenKind::Error, "Unterminated string.".into(), 1));
        let t = kinds("a\0b");
        assert_eq!(t.len(), 2);
        assert_eq!(t[1].0, TokenKind::Eof);
    }
}
