//! Quickening: the VM's copy of a function's code, with some pairs of
//! instructions fused into one dispatch.
//!
//! The compiler's bytecode is clox's, byte for byte (the disassembler and
//! its tests read it). When the VM materialises a function on the heap it
//! runs a rewritten copy instead: where an instruction is followed by one
//! it pairs well with, the first instruction's opcode byte is replaced by
//! a *fused* opcode (numbered after clox's 37) and every other byte is
//! left as it was. Lengths, offsets, jump targets and the line table are
//! therefore unchanged, and the second instruction is still there, intact:
//!
//! - a jump that lands on the second instruction runs it alone, as before;
//! - a fused instruction's handler either does the work of both
//!   instructions (its fast path) and continues after the second, or does
//!   exactly the first one and continues at the second, which the
//!   ordinary handler then runs (the fallback, for every case the fast
//!   path does not cover: a non-number operand, a receiver that is not an
//!   instance, an error). Behaviour is the unfused code's by construction.
//!
//! Errors report the line of the instruction that fails, as before, since
//! a fast path that fails falls back before doing anything, and positions
//! are the unfused code's.
//!
//! The pairs (frequent in the book's programs: `this.field`, `if`
//! conditions, loop counters, arithmetic with a literal):
//!
//! | fused | first | second |
//! | --- | --- | --- |
//! | `GET_LOCAL_PROPERTY` | `GET_LOCAL slot` | `GET_PROPERTY name` |
//! | `JUMP_IF_FALSE_POP` | `JUMP_IF_FALSE offset` | `POP` |
//! | `CONSTANT_ADD` (`_SUBTRACT`, `_LESS`, `_GREATER`, `_EQUAL`, `_RETURN`) | `CONSTANT k` | `ADD` (...) |
//! | `GET_LOCAL_PROPERTY_INVOKE` | `GET_LOCAL slot` | `GET_PROPERTY name`, then `INVOKE` |
//!
//! `GET_LOCAL_PROPERTY_INVOKE` is a triple (`this.field.method()`): when
//! the first two find a field, the `INVOKE` runs in the same dispatch;
//! otherwise the handler stops where `GET_LOCAL_PROPERTY` would. And
//! `JUMP_IF_FALSE_POP`, when it jumps, also runs the `POP` an `if`
//! statement puts at the jump's target (the else branch's), if there is
//! one there.

use crate::chunk::{Constant, OpCode, Proto};

/// Fused opcodes, after clox's.
pub const GET_LOCAL_PROPERTY: u8 = OpCode::ALL.len() as u8;
pub const JUMP_IF_FALSE_POP: u8 = GET_LOCAL_PROPERTY + 1;
pub const CONSTANT_ADD: u8 = GET_LOCAL_PROPERTY + 2;
pub const CONSTANT_SUBTRACT: u8 = GET_LOCAL_PROPERTY + 3;
pub const CONSTANT_LESS: u8 = GET_LOCAL_PROPERTY + 4;
pub const CONSTANT_GREATER: u8 = GET_LOCAL_PROPERTY + 5;
pub const CONSTANT_EQUAL: u8 = GET_LOCAL_PROPERTY + 6;
pub const CONSTANT_RETURN: u8 = GET_LOCAL_PROPERTY + 7;
pub const GET_LOCAL_PROPERTY_INVOKE: u8 = GET_LOCAL_PROPERTY + 8;

/// The length in bytes of the instruction at `offset` (at least 1).
pub fn instruction_len(proto: &Proto, offset: usize) -> usize {
    let Some(op) = proto.code.get(offset).and_then(|&b| OpCode::from_byte(b)) else {
        return 1;
    };
    match op {
        OpCode::Constant
        | OpCode::GetGlobal
        | OpCode::DefineGlobal
        | OpCode::SetGlobal
        | OpCode::GetProperty
        | OpCode::SetProperty
        | OpCode::GetSuper
        | OpCode::Class
        | OpCode::Method
        | OpCode::GetLocal
        | OpCode::SetLocal
        | OpCode::GetUpvalue
        | OpCode::SetUpvalue
        | OpCode::Call => 2,
        OpCode::Invoke | OpCode::SuperInvoke | OpCode::Jump | OpCode::JumpIfFalse | OpCode::Loop => 3,
        OpCode::Closure => {
            let upvalues = match proto
                .code
                .get(offset + 1)
                .and_then(|&c| proto.constants.get(usize::from(c)))
            {
                Some(Constant::Function(f)) => f.upvalues.len(),
                _ => 0,
            };
            2 + 2 * upvalues
        }
        _ => 1,
    }
}

/// The fused opcode for `first` followed by `second`, if they pair.
fn fuse(first: OpCode, second: OpCode) -> Option<u8> {
    match (first, second) {
        (OpCode::GetLocal, OpCode::GetProperty) => Some(GET_LOCAL_PROPERTY),
        (OpCode::JumpIfFalse, OpCode::Pop) => Some(JUMP_IF_FALSE_POP),
        (OpCode::Constant, OpCode::Add) => Some(CONSTANT_ADD),
        (OpCode::Constant, OpCode::Subtract) => Some(CONSTANT_SUBTRACT),
        (OpCode::Constant, OpCode::Less) => Some(CONSTANT_LESS),
        (OpCode::Constant, OpCode::Greater) => Some(CONSTANT_GREATER),
        (OpCode::Constant, OpCode::Equal) => Some(CONSTANT_EQUAL),
        (OpCode::Constant, OpCode::Return) => Some(CONSTANT_RETURN),
        _ => None,
    }
}

/// The code the VM runs for `proto`: its bytecode with fusable pairs'
/// first opcodes replaced (see the module documentation).
pub fn quicken(proto: &Proto) -> Vec<u8> {
    let mut code = proto.code.clone();
    let mut offset = 0;
    while offset < code.len() {
        let len = instruction_len(proto, offset);
        let next = offset + len;
        let first = OpCode::from_byte(proto.code[offset]);
        let second = proto.code.get(next).and_then(|&b| OpCode::from_byte(b));
        if let (Some(a), Some(b)) = (first, second) {
            if let Some(mut fused) = fuse(a, b) {
                // `this.field.method()`: a third instruction joins.
                if fused == GET_LOCAL_PROPERTY && proto.code.get(next + 2) == Some(&(OpCode::Invoke as u8)) {
                    fused = GET_LOCAL_PROPERTY_INVOKE;
                }
                code[offset] = fused;
            }
        }
        offset = next;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::compiler::compile;

    fn script(src: &str) -> Proto {
        compile(src.as_bytes()).expect("compiles")
    }

    #[test]
    fn fuses_only_at_instruction_boundaries_and_keeps_every_other_byte() {
        // `1` is constant 0; the GET_LOCAL's operand (slot 1) equals
        // OP_NIL's byte, and a CONSTANT's operand may equal an opcode.
        let p = script("fun f(a) { var b = a; if (b.x < 1) return b.y - 1; return 2; }");
        let Some(Constant::Function(f)) = p.constants.iter().find(|c| matches!(c, Constant::Function(_))) else {
            panic!("no function")
        };
        let q = quicken(f);
        assert_eq!(q.len(), f.code.len());
        let mut offset = 0;
        let mut fused = 0;
        while offset < q.len() {
            let len = instruction_len(f, offset);
            if q[offset] != f.code[offset] {
                fused += 1;
                let next = OpCode::from_byte(f.code[offset + len]).expect("a second instruction");
                let first = OpCode::from_byte(f.code[offset]).expect("an opcode");
                assert_eq!(fuse(first, next), Some(q[offset]));
            }
            for i in 1..len {
                assert_eq!(q[offset + i], f.code[offset + i], "operand byte {} changed", offset + i);
            }
            offset += len;
        }
        // b.x, b.y (GET_LOCAL_PROPERTY), `< 1`, `- 1`, `return 2` (CONSTANT_...),
        // the if's JUMP_IF_FALSE + POP.
        assert_eq!(fused, 6);
    }
}
