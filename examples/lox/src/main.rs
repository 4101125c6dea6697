//! `lox`: runs a Lox script (`lox FILE`) or, with no argument, a REPL.
//!
//! Exit codes are clox's: 65 after a compile error, 70 after a runtime
//! error, 74 when the script cannot be read, 64 for a bad command line.
//! `lox --disassemble FILE` prints the script's bytecode instead of
//! running it. The collector is configured from the environment
//! (`MARROW_GCMODE`, `MARROW_GCSTRESS`, ...; see marrow-gc's `config.rs`).
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::io::{BufRead, Write};
use std::process::ExitCode;

use marrow_gc::{Gc, GcConfig, Mutator};
use marrow_lox::compiler::compile;
use marrow_lox::disasm::disassemble_tree;
use marrow_lox::vm::{Outcome, Vm};

const USAGE: &str = "Usage: lox [--disassemble] [path]\n";

fn read_source(path: &OsStr) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(path).map_err(|_| {
        eprintln!("Could not open file \"{}\".", path.to_string_lossy());
        ExitCode::from(74)
    })
}

fn report_compile_errors(errors: &[marrow_lox::compiler::CompileError]) {
    let mut stderr = std::io::stderr().lock();
    for e in errors {
        let _ = stderr.write_all(&e.render());
    }
}

fn new_vm() -> Result<(Mutator, Vm), String> {
    let config = GcConfig::from_env().map_err(|e| format!("lox: {e}"))?;
    let gc = Gc::new(config).map_err(|e| format!("lox: {e}"))?;
    let mut m = Mutator::new(&gc).map_err(|e| format!("lox: {e}"))?;
    let vm = Vm::new(&mut m).map_err(|e| format!("lox: {e}"))?;
    Ok((m, vm))
}

fn run_file(path: &OsStr) -> ExitCode {
    let source = match read_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    let proto = match compile(&source) {
        Ok(p) => p,
        Err(errors) => {
            report_compile_errors(&errors);
            return ExitCode::from(65);
        }
    };
    let (mut m, mut vm) = match new_vm() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(70);
        }
    };
    match vm.interpret(&mut m, &proto) {
        Outcome::Ok => ExitCode::SUCCESS,
        Outcome::RuntimeError => ExitCode::from(70),
    }
}

/// Reads like C's `fgets(buf, 1024, stdin)`: up to 1023 bytes, stopping
/// after a newline. Empty at end of input.
fn read_chunk(input: &mut impl BufRead, out: &mut Vec<u8>) -> std::io::Result<()> {
    const MAX: usize = 1023;
    while out.len() < MAX {
        let buf = input.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        let room = MAX - out.len();
        let take = buf
            .iter()
            .take(room)
            .position(|&b| b == b'\n')
            .map_or(room.min(buf.len()), |i| i + 1);
        out.extend_from_slice(&buf[..take]);
        input.consume(take);
        if out.last() == Some(&b'\n') {
            break;
        }
    }
    Ok(())
}

/// clox's REPL: a prompt, one line at a time (each line a whole program
/// sharing the globals; like clox, a line longer than 1023 bytes is read
/// and run as several), errors reported and forgotten, end at end of input.
fn repl() -> ExitCode {
    let (mut m, mut vm) = match new_vm() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(70);
        }
    };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let mut line = Vec::new();
    loop {
        print!("> ");
        let _ = std::io::stdout().flush();
        line.clear();
        if read_chunk(&mut input, &mut line).is_err() || line.is_empty() {
            println!();
            return ExitCode::SUCCESS;
        }
        match compile(&line) {
            Ok(proto) => {
                vm.interpret(&mut m, &proto);
            }
            Err(errors) => report_compile_errors(&errors),
        }
        vm.flush();
    }
}

fn run(args: &[OsString]) -> ExitCode {
    match args {
        [] => repl(),
        [flag, path] if flag == "--disassemble" => {
            let source = match read_source(path) {
                Ok(s) => s,
                Err(code) => return code,
            };
            match compile(&source) {
                Ok(proto) => {
                    let _ = std::io::stdout().lock().write_all(&disassemble_tree(&proto));
                    ExitCode::SUCCESS
                }
                Err(errors) => {
                    report_compile_errors(&errors);
                    ExitCode::from(65)
                }
            }
        }
        [path] if !path.to_string_lossy().starts_with("--") => run_file(path),
        _ => {
            eprint!("{USAGE}");
            ExitCode::from(64)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    run(&args)
}
