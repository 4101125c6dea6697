//! Runs every program of `tests/corpus/` with the `marrow` binary and checks
//! stdout, stderr and the exit status (see tests/corpus/README.md), normally
//! and under GC torture; plus the deep-recursion limits and bad inputs.

use std::path::{Path, PathBuf};
use std::process::Command;

fn marrow() -> Command {
    Command::new(env!("CARGO_BIN_EXE_marrow"))
}

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "scm"))
        .collect();
    v.sort();
    v
}

fn check(path: &Path, extra: &[&str]) -> Result<(), String> {
    let read = |ext: &str| std::fs::read_to_string(path.with_extension(ext)).ok();
    if read("out").is_none() && read("err").is_none() {
        return Err(format!(
            "{}: has neither a .out nor a .err file: a program without an expectation checks nothing",
            path.display()
        ));
    }
    let words = |ext: &str| -> Vec<String> {
        read(ext).map_or(Vec::new(), |s| s.split_whitespace().map(String::from).collect())
    };
    // Run from the corpus directory with the bare file name, so messages
    // read `NAME.scm:LINE:COL: ...` and `load` finds `lib/` relative files.
    let mut cmd = marrow();
    cmd.current_dir(path.parent().expect("corpus dir"))
        .args(words("flags"))
        .args(extra)
        .arg(path.file_name().expect("file name"))
        .args(words("args"));
    let out = if let Some(input) = read("in") {
        use std::io::Write;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(input.as_bytes())
            .map_err(|e| e.to_string())?;
        child.wait_with_output().map_err(|e| e.to_string())?
    } else {
        cmd.output().map_err(|e| e.to_string())?
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let err = read("err");
    let code: i32 = read("code")
        .map(|s| s.trim().parse().unwrap_or(0))
        .unwrap_or(if err.is_some() { 1 } else { 0 });
    let name = path.display();
    if out.status.code() != Some(code) {
        return Err(format!(
            "{name} {extra:?}: exit {:?}, expected {code}\nstderr: {stderr}",
            out.status.code()
        ));
    }
    if let Some(exp) = read("out") {
        if stdout != exp {
            return Err(format!(
                "{name} {extra:?}: stdout differs\n--- got\n{stdout}\n--- expected\n{exp}"
            ));
        }
    }
    if let Some(e) = err {
        if !stderr.contains(e.trim_end_matches('\n')) {
            return Err(format!("{name} {extra:?}: stderr lacks {e:?}\n--- got\n{stderr}"));
        }
    }
    if stderr.contains("panicked") {
        return Err(format!("{name}: panic\n{stderr}"));
    }
    Ok(())
}

fn run_all(extra: &[&str]) {
    let failures: Vec<String> = corpus().iter().filter_map(|p| check(p, extra).err()).collect();
    assert!(
        failures.is_empty(),
        "{} failure(s):\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn corpus_plain() {
    run_all(&[]);
}

/// The whole corpus under each collector mode (the flags come after a
/// program's own `.flags`, so they win), with frequent collections and the
/// mark verifier.
#[test]
fn corpus_gc_stw() {
    run_all(&["--gc-mode", "stw", "--gc-stress", "50", "--heap-check"]);
}

#[test]
fn corpus_gc_incremental() {
    run_all(&["--gc-mode", "incremental", "--gc-stress", "50", "--heap-check"]);
}

#[test]
fn corpus_gc_concurrent() {
    run_all(&["--gc-mode", "concurrent", "--gc-stress", "50", "--heap-check"]);
}

#[test]
fn million_deep_recursion_and_limit() {
    let out = marrow()
        .args(["-e", "(define (d n) (if (= n 0) 0 (+ 1 (d (- n 1))))) (d 1000000)"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "1000000");
    let out = marrow()
        .args([
            "--max-depth",
            "50000",
            "-e",
            "(define (d n) (if (= n 0) 0 (+ 1 (d (- n 1))))) (d 100000)",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("stack overflow"));
}

#[test]
fn bad_inputs_fail_cleanly() {
    let dir = std::env::temp_dir().join(format!("marrow-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("garbage.scm");
    std::fs::write(&bin, [0u8, 159, 146, 150, 1, 2, 3]).unwrap();
    let deep = dir.join("deep.scm");
    std::fs::write(&deep, "(".repeat(100_000)).unwrap();
    let cases: Vec<(Vec<String>, &str, i32)> = vec![
        (vec!["/nonexistent/x.scm".into()], "cannot open", 1),
        (vec![dir.display().to_string()], "directory", 1),
        (vec![bin.display().to_string()], "binary", 1),
        (vec![deep.display().to_string()], "nesting", 1),
        (vec!["--bogus".into()], "unknown flag", 2),
        (vec!["--gogc".into(), "lots".into()], "gogc", 2),
        (
            vec![
                "--memlimit".into(),
                "32MiB".into(),
                "-e".into(),
                "(let loop ((l '())) (loop (cons (make-vector 100) l)))".into(),
            ],
            "out of memory",
            1,
        ),
    ];
    for (args, needle, code) in cases {
        let out = marrow().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(needle), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Command-line and process-level defects of issue 15: each case used to
/// panic, be silently ignored or exit with the wrong status.
#[test]
fn flags_and_exit_statuses() {
    let run = |args: &[&str]| {
        let out = marrow().args(args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr,
        )
    };
    // (exit n) with n outside 0..=255 is a failure, never a truncated 0.
    assert_eq!(run(&["-e", "(exit 256)"]).0, Some(1));
    assert_eq!(run(&["-e", "(exit 4294967296)"]).0, Some(1));
    assert_eq!(run(&["-e", "(exit 255)"]).0, Some(255));
    // A memory limit too large to address is a usage error, not a zero arena.
    let (code, _, err) = run(&["--memlimit", "18446744073709551615", "-e", "1"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("--memlimit"), "{err}");
    // -e with a script file is refused rather than ignoring the file.
    let (code, _, err) = run(&["-e", "1", "script.scm"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("-e cannot be combined"), "{err}");
    // --gctrace=0 means off, --gctrace=1 on.
    let (_, _, err) = run(&["--gctrace=0", "-e", "(collect-garbage)"]);
    assert!(!err.contains("gc "), "{err}");
    let (_, _, err) = run(&["--gctrace=1", "-e", "(collect-garbage)"]);
    assert!(err.contains("gc "), "{err}");
    // --max-steps stops a runaway program with an error.
    let (code, _, err) = run(&["--max-steps", "1000", "-e", "(let loop ((i 0)) (loop (+ i 1)))"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("step limit reached"), "{err}");
    // A script that never ends (a device) is refused, not read forever.
    let (code, _, err) = run(&["/dev/zero"]);
    assert_eq!(code, Some(1), "{err}");
    assert!(err.contains("binary file"), "{err}");
    // Output printed before an uncaught error is not lost.
    let (code, out, _) = run(&["-e", "(display \"before\") (car 1)"]);
    assert_eq!((code, out.as_str()), (Some(1), "before"));
}

#[cfg(unix)]
#[test]
fn non_utf8_arguments_are_usage_errors() {
    use std::os::unix::ffi::OsStrExt;
    let bad = std::ffi::OsStr::from_bytes(b"\xff.scm");
    for args in [vec![bad], vec![std::ffi::OsStr::new("-e"), bad]] {
        let out = marrow().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains("not valid UTF-8"), "{stderr}");
    }
}

/// `marrow loop.scm | head`: once the reader of standard output goes away
/// the program stops (status 141, as for SIGPIPE) instead of running on.
#[test]
fn closed_stdout_stops_the_program() {
    use std::io::Read;
    let mut child = marrow()
        .args(["-e", "(let loop ((i 0)) (display i) (newline) (loop (+ i 1)))"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut buf = [0u8; 64];
    child.stdout.take().unwrap().read_exact(&mut buf).unwrap();
    // The pipe's read end is dropped here.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("marrow kept running after its stdout was closed");
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(141));
}

/// `--stats` reports the collector's CPU share: pauses plus the marking
/// done beside the program (assists, background workers), which is zero
/// when every mark is stop-the-world and not in the other modes.
#[test]
fn stats_report_the_collectors_cpu_share() {
    let prog = "(define (mk n) (if (= n 0) '() (cons (make-vector 10 n) (mk (- n 1))))) \
                (let loop ((i 0)) (if (< i 300) (begin (mk 10000) (loop (+ i 1)))))";
    for mode in ["stw", "incremental", "concurrent"] {
        let out = marrow()
            .args(["--stats", "--gc-mode", mode, "-e", prog])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{err}");
        let line = err
            .lines()
            .find(|l| l.contains("gc cpu"))
            .unwrap_or_else(|| panic!("{err}"));
        let marking: f64 = line
            .rsplit("background marking ")
            .next()
            .and_then(|r| r.trim_end_matches(" s").parse().ok())
            .unwrap_or_else(|| panic!("{line}"));
        if mode == "stw" {
            assert_eq!(marking, 0.0, "{line}");
        } else {
            assert!(marking > 0.0, "{mode}: {line}");
        }
    }
}
