//! The bytecode disassembler, in the format of clox's `debug.c`.
//!
//! `lox --disassemble FILE` prints every function of a script the way
//! clox built with `DEBUG_PRINT_CODE` does: each function when its
//! compilation ends (so nested functions before the function that
//! contains them, the script last), headed `== name ==` (`== <script> ==`
//! for the top level), one instruction per line with its offset, its
//! source line (`   |` when unchanged) and its operands. The compiler's
//! unit tests read bytecode through it.

use std::io::Write;

use crate::chunk::{Constant, OpCode, Proto};
use crate::number::format_number;

/// A constant as clox's `printValue` prints it (bytes: strings are printed
/// as they are, whatever their encoding).
pub fn constant_text(c: &Constant) -> Vec<u8> {
    match c {
        Constant::Number(n) => format_number(*n).into_bytes(),
        Constant::String(s) => s.to_vec(),
        Constant::Function(p) => match &p.name {
            Some(name) => [&b"<fn "[..], name, b">"].concat(),
            None => b"<script>".to_vec(),
        },
    }
}

/// Every function of the tree rooted at `proto`, in clox's order (nested
/// functions first, depth-first, in the order their compilation ends).
pub fn disassemble_tree(proto: &Proto) -> Vec<u8> {
    let mut out = Vec::new();
    for c in &proto.constants {
        if let Constant::Function(inner) = c {
            out.extend_from_slice(&disassemble_tree(inner));
        }
    }
    let name = proto.name.as_deref().unwrap_or(b"<script>");
    out.extend_from_slice(&disassemble_chunk(proto, name));
    out
}

/// One function's chunk, headed `== name ==`.
pub fn disassemble_chunk(proto: &Proto, name: &[u8]) -> Vec<u8> {
    let mut out = [&b"== "[..], name, b" ==\n"].concat();
    let mut offset = 0;
    while offset < proto.code.len() {
        offset = disassemble_instruction(proto, offset, &mut out);
    }
    out
}

fn constant_at(proto: &Proto, index: u8) -> Vec<u8> {
    proto
        .constants
        .get(usize::from(index))
        .map_or_else(|| b"<bad constant>".to_vec(), constant_text)
}

fn byte_at(proto: &Proto, offset: usize) -> u8 {
    proto.code.get(offset).copied().unwrap_or(0)
}

/// Appends the instruction at `offset` to `out`; returns the next offset.
pub fn disassemble_instruction(proto: &Proto, offset: usize, out: &mut Vec<u8>) -> usize {
    let _ = write!(out, "{offset:04} ");
    let line = proto.lines.get(offset).copied().unwrap_or(0);
    if offset > 0 && proto.lines.get(offset - 1) == Some(&line) {
        out.extend_from_slice(b"   | ");
    } else {
        let _ = write!(out, "{line:4} ");
    }
    let byte = proto.code[offset];
    let Some(op) = OpCode::from_byte(byte) else {
        let _ = writeln!(out, "Unknown opcode {byte}");
        return offset + 1;
    };
    let name = op.name();
    match op {
        OpCode::Constant
        | OpCode::GetGlobal
        | OpCode::DefineGlobal
        | OpCode::SetGlobal
        | OpCode::GetProperty
        | OpCode::SetProperty
        | OpCode::GetSuper
        | OpCode::Class
        | OpCode::Method => {
            let c = byte_at(proto, offset + 1);
            let _ = write!(out, "{name:<16} {c:4} '");
            out.extend_from_slice(&constant_at(proto, c));
            out.extend_from_slice(b"'\n");
            offset + 2
        }
        OpCode::GetLocal | OpCode::SetLocal | OpCode::GetUpvalue | OpCode::SetUpvalue | OpCode::Call => {
            let slot = byte_at(proto, offset + 1);
            let _ = writeln!(out, "{name:<16} {slot:4}");
            offset + 2
        }
        OpCode::Invoke | OpCode::SuperInvoke => {
            let c = byte_at(proto, offset + 1);
            let argc = byte_at(proto, offset + 2);
            let _ = write!(out, "{name:<16} ({argc} args) {c:4} '");
            out.extend_from_slice(&constant_at(proto, c));
            out.extend_from_slice(b"'\n");
            offset + 3
        }
        OpCode::Jump | OpCode::JumpIfFalse | OpCode::Loop => {
            let jump = (usize::from(byte_at(proto, offset + 1)) << 8) | usize::from(byte_at(proto, offset + 2));
            let target = if op == OpCode::Loop {
                (offset + 3) as i64 - jump as i64
            } else {
                (offset + 3 + jump) as i64
            };
            let _ = writeln!(out, "{name:<16} {offset:4} -> {target}");
            offset + 3
        }
        OpCode::Closure => {
            let mut next = offset + 1;
            let c = byte_at(proto, next);
            next += 1;
            let _ = write!(out, "{name:<16} {c:4} ");
            out.extend_from_slice(&constant_at(proto, c));
            out.push(b'\n');
            let count = match proto.constants.get(usize::from(c)) {
                Some(Constant::Function(f)) => f.upvalues.len(),
                _ => 0,
            };
            for _ in 0..count {
                let is_local = byte_at(proto, next);
                let index = byte_at(proto, next + 1);
                next += 2;
                let kind = if is_local != 0 { "local" } else { "upvalue" };
                let _ = writeln!(out, "{:04}      |                     {kind} {index}", next - 2);
            }
            next
        }
        _ => {
            let _ = writeln!(out, "{name}");
            offset + 1
        }
    }
}
