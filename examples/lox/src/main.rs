//! `lox`: runs a Lox script (`lox FILE`) or, with no argument, a REPL.
//!
//! Exit codes are clox's: 65 after a compile error, 70 after a runtime
//! error, 74 when the script cannot be read, 64 for a bad command line.
//! `lox --disassemble FILE` prints the script's bytecode instead of
//! running it.
#![forbid(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::process::ExitCode;

use marrow_lox::compiler::compile;
use marrow_lox::disasm::disassemble_tree;

const USAGE: &str = "Usage: lox [--disassemble] [path]\n";

fn read_source(path: &OsStr) -> Result<Vec<u8>, ExitCode> {
    std::fs::read(path).map_err(|_| {
        eprintln!("Could not open file \"{}\".", path.to_string_lossy());
        ExitCode::from(74)
    })
}

fn run(args: &[OsString]) -> ExitCode {
    let (disassemble, path) = match args {
        [] => (false, None),
        [flag, path] if flag == "--disassemble" => (true, Some(path.as_os_str())),
        [path] if !path.to_string_lossy().starts_with("--") => (false, Some(path.as_os_str())),
        _ => {
            eprint!("{USAGE}");
            return ExitCode::from(64);
        }
    };
    let Some(path) = path else {
        eprintln!("lox: the REPL needs the VM, which is not implemented yet.");
        return ExitCode::from(1);
    };
    let source = match read_source(path) {
        Ok(s) => s,
        Err(code) => return code,
    };
    match compile(&source) {
        Err(errors) => {
            let mut stderr = std::io::stderr().lock();
            for e in errors {
                let _ = stderr.write_all(&e.render());
            }
            ExitCode::from(65)
        }
        Ok(proto) if disassemble => {
            let _ = std::io::stdout().lock().write_all(&disassemble_tree(&proto));
            ExitCode::SUCCESS
        }
        Ok(_) => {
            eprintln!("lox: compiled; running needs the VM, which is not implemented yet.");
            ExitCode::from(1)
        }
    }
}

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().skip(1).collect();
    run(&args)
}
