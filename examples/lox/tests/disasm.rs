//! The compiler's bytecode, byte for byte, is clox's: for every listing in
//! `tests/disasm/` (clox's own disassembly of `tests/corpus/NAME.lox`,
//! written by `tests/bless-disasm-with-clox.sh` from clox built with
//! `DEBUG_PRINT_CODE`), marrow-lox's compiler and disassembler must print
//! the same text. The listing shows every opcode, operand, jump target,
//! constant, upvalue descriptor and source line, so equal listings mean
//! equal chunks.

use std::path::Path;

use marrow_lox::compiler::compile;
use marrow_lox::disasm::disassemble_tree;

#[test]
fn listings_match_clox() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests");
    let mut listings: Vec<_> = std::fs::read_dir(root.join("disasm"))
        .expect("tests/disasm is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "dis"))
        .collect();
    listings.sort();
    assert!(listings.len() >= 50, "only {} listings", listings.len());
    let mut failures = Vec::new();
    for listing in &listings {
        let name = listing
            .file_stem()
            .expect("listing name")
            .to_string_lossy()
            .into_owned();
        let source = std::fs::read(root.join("corpus").join(format!("{name}.lox"))).expect("the listing's script");
        let want = String::from_utf8_lossy(&std::fs::read(listing).expect("listing")).into_owned();
        match compile(&source) {
            Ok(proto) => {
                let got = String::from_utf8_lossy(&disassemble_tree(&proto)).into_owned();
                if got != want {
                    let line = got.lines().zip(want.lines()).position(|(a, b)| a != b).unwrap_or(0);
                    failures.push(format!(
                        "{name}: listing differs at line {}: got {:?}, clox {:?}",
                        line + 1,
                        got.lines().nth(line),
                        want.lines().nth(line)
                    ));
                }
            }
            Err(errors) => failures.push(format!("{name}: does not compile: {}", errors[0])),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
