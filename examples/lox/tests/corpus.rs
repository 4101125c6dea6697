//! Runs every script of `tests/corpus/` with the `lox` binary and checks its
//! stdout, stderr and exit code against the expectation files, under each
//! collector mode and under the collector's checking and stress settings.
//!
//! Convention (see `tests/corpus/README.md`): `NAME.lox` is a script;
//! `NAME.out` is its exact stdout (required: a script without one is
//! refused); `NAME.err` is its exact stderr (absent: empty). The exit code
//! is implied: 0 without `NAME.err`, 65 when `NAME.err` starts with a
//! compile error (`[line N] Error`), 70 otherwise (a runtime error). Every
//! expectation file was produced by clox built from the book's sources
//! and agrees with the expectations written in the script's own
//! `// expect:` / `// stderr:` comments (`tests/bless-with-clox.sh`).
//!
//! Configurations: `MARROW_GCMODE` = `stw`, `incremental`, `concurrent`;
//! `MARROW_CHECKMARK=1` (every mark re-checked from scratch) with
//! `MARROW_CLOBBERFREE=1`; `MARROW_GCSTRESS=N` (a collection every N
//! allocations) in the stop-the-world and the concurrent mode.

use std::path::{Path, PathBuf};
use std::process::Command;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

fn files_with(ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .expect("tests/corpus is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == ext))
        .collect();
    v.sort();
    v
}

struct Expectation {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    code: i32,
}

fn expectation(script: &Path) -> Result<Expectation, String> {
    let stdout = std::fs::read(script.with_extension("out")).map_err(|_| {
        format!(
            "{}: no expectation file {}",
            script.display(),
            script.with_extension("out").display()
        )
    })?;
    let stderr = std::fs::read(script.with_extension("err")).unwrap_or_default();
    let code = if stderr.is_empty() {
        0
    } else if stderr.starts_with(b"[line ")
        && String::from_utf8_lossy(&stderr)
            .lines()
            .next()
            .is_some_and(|l| l.contains("] Error"))
    {
        65
    } else {
        70
    };
    Ok(Expectation { stdout, stderr, code })
}

fn run_script(script: &Path, env: &[(&str, &str)]) -> Result<(), String> {
    let want = expectation(script)?;
    let out = Command::new(env!("CARGO_BIN_EXE_lox"))
        .current_dir(corpus_dir())
        .arg(script.file_name().expect("script has a file name"))
        .envs(env.iter().copied())
        .output()
        .map_err(|e| format!("cannot run lox: {e}"))?;
    let name = script
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut problems = Vec::new();
    if out.status.code() != Some(want.code) {
        problems.push(format!("exit code {:?}, expected {}", out.status.code(), want.code));
    }
    if out.stdout != want.stdout {
        problems.push(format!(
            "stdout differs\n--- got\n{}--- expected\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&want.stdout)
        ));
    }
    if out.stderr != want.stderr {
        problems.push(format!(
            "stderr differs\n--- got\n{}--- expected\n{}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&want.stderr)
        ));
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(format!("{name} {env:?}: {}", problems.join("\n")))
    }
}

fn run_corpus(env: &[(&str, &str)]) {
    let scripts = files_with("lox");
    assert!(scripts.len() >= 100, "the corpus has only {} scripts", scripts.len());
    let failures: Vec<String> = scripts.iter().filter_map(|s| run_script(s, env).err()).collect();
    assert!(
        failures.is_empty(),
        "{} of {} scripts failed:\n{}",
        failures.len(),
        scripts.len(),
        failures.iter().take(10).cloned().collect::<Vec<_>>().join("\n\n")
    );
}

#[test]
fn every_script_has_an_expectation_and_every_expectation_a_script() {
    let mut problems = Vec::new();
    for script in files_with("lox") {
        if let Err(e) = expectation(&script) {
            problems.push(e);
        }
    }
    for ext in ["out", "err"] {
        for f in files_with(ext) {
            if !f.with_extension("lox").exists() {
                problems.push(format!(
                    "{}: no script {}",
                    f.display(),
                    f.with_extension("lox").display()
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn corpus_stop_the_world() {
    run_corpus(&[("MARROW_GCMODE", "stw")]);
}

#[test]
fn corpus_incremental() {
    run_corpus(&[("MARROW_GCMODE", "incremental")]);
}

#[test]
fn corpus_concurrent() {
    run_corpus(&[("MARROW_GCMODE", "concurrent")]);
}

#[test]
fn corpus_checkmark_and_clobber() {
    run_corpus(&[
        ("MARROW_GCMODE", "concurrent"),
        ("MARROW_CHECKMARK", "1"),
        ("MARROW_CLOBBERFREE", "1"),
    ]);
}

#[test]
fn corpus_gc_stress_stop_the_world() {
    run_corpus(&[
        ("MARROW_GCMODE", "stw"),
        ("MARROW_GCSTRESS", "7"),
        ("MARROW_CHECKMARK", "1"),
    ]);
}

#[test]
fn corpus_gc_stress_concurrent() {
    run_corpus(&[("MARROW_GCMODE", "concurrent"), ("MARROW_GCSTRESS", "31")]);
}

#[test]
fn unreadable_file_exits_74() {
    let missing = corpus_dir().join("no-such-script.lox");
    let out = Command::new(env!("CARGO_BIN_EXE_lox"))
        .arg(&missing)
        .output()
        .expect("run lox");
    assert_eq!(out.status.code(), Some(74));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!("Could not open file \"{}\".\n", missing.display())
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bad_command_line_exits_64() {
    let out = Command::new(env!("CARGO_BIN_EXE_lox"))
        .args(["a.lox", "b.lox"])
        .output()
        .expect("run lox");
    assert_eq!(out.status.code(), Some(64));
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("Usage: lox"));
}

/// The REPL (`lox` with no argument) behaves as clox's: a `> ` prompt per
/// line, each line a program sharing the globals, errors reported and the
/// session going on, lines longer than 1023 bytes read in pieces, a newline
/// at end of input, exit 0. `tests/repl/NAME.in` is a session and
/// `NAME.out`, `NAME.err` are clox's stdout and stderr for it.
#[test]
fn repl_sessions_match_clox() {
    use std::io::Write;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/repl");
    let mut sessions: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/repl is readable")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "in"))
        .collect();
    sessions.sort();
    assert!(sessions.len() >= 4, "only {} sessions", sessions.len());
    for session in &sessions {
        let input = std::fs::read(session).expect("session input");
        let want_out = std::fs::read(session.with_extension("out")).expect("expected stdout");
        let want_err = std::fs::read(session.with_extension("err")).expect("expected stderr");
        for mode in ["stw", "concurrent"] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_lox"))
                .env("MARROW_GCMODE", mode)
                .env("MARROW_GCSTRESS", "3")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("run lox");
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(&input)
                .expect("write the session");
            let out = child.wait_with_output().expect("lox ends");
            let name = session.display();
            assert_eq!(out.status.code(), Some(0), "{name} ({mode})");
            assert_eq!(
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&want_out),
                "{name} ({mode})"
            );
            assert_eq!(
                String::from_utf8_lossy(&out.stderr),
                String::from_utf8_lossy(&want_err),
                "{name} ({mode})"
            );
        }
    }
}
