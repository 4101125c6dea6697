//! The REPL: reads complete data across lines, prints results with `write`,
//! survives errors, keeps history in $HOME/.marrow_history, and exits on
//! end of input or `(exit)`.

use std::io::Write;
use std::process::{Command, Stdio};

fn run_repl(input: &str, home: &std::path::Path) -> (String, String, i32) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_marrow"))
        .env("HOME", home)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("marrow runs");
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

#[test]
fn repl_evaluates_survives_errors_and_keeps_history() {
    let home = std::env::temp_dir().join(format!("marrow-repl-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let (out, err, code) = run_repl(
        "(define x 5)\n(car 1)\n(* x 2)\n(define (f n)\n  (* n n))\n(f 7)\n\"str\"\n",
        &home,
    );
    assert_eq!(code, 0, "stderr: {err}");
    assert!(out.contains("10\n49\n\"str\"\n"), "stdout: {out}");
    assert!(err.contains("car: expected a pair, got 1"), "stderr: {err}");
    let history = std::fs::read_to_string(home.join(".marrow_history")).unwrap();
    assert!(history.contains("(* x 2)"), "history: {history}");
    let (_, _, code) = run_repl("(exit 3)\n(display 1)\n", &home);
    assert_eq!(code, 3);
    std::fs::remove_dir_all(&home).unwrap();
}

#[test]
fn repl_survives_a_non_ascii_hash() {
    let home = std::env::temp_dir().join(format!("marrow-repl-hash-{}", std::process::id()));
    std::fs::create_dir_all(&home).unwrap();
    let (out, err, code) = run_repl("#\u{e9}\n(+ 1 2)\n", &home);
    assert_eq!(code, 0, "stderr: {err}");
    assert!(err.contains("bad syntax"), "stderr: {err}");
    assert!(!err.contains("panicked"), "stderr: {err}");
    assert!(out.contains('3'), "stdout: {out}");
    std::fs::remove_dir_all(&home).unwrap();
}
