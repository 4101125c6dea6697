//! Runs the loom models of the concurrent protocols as part of
//! `cargo test --workspace`, so CI checks them: a nested cargo builds the
//! runtime's and the collector's model tests (`runtime/tests/loom.rs`,
//! `gc/tests/loom.rs`) with `--cfg loom` in their own target directory and
//! runs them, bounded by `LOOM_MAX_PREEMPTIONS=2` (the README gives the
//! same commands to run them by hand).

use std::process::Command;

fn run_models(package: &str) {
    let root = env!("CARGO_MANIFEST_DIR");
    let target = format!("{root}/target/loom");
    let out = Command::new(env!("CARGO"))
        .args([
            "test",
            "-p",
            package,
            "--test",
            "loom",
            "--release",
            "--target-dir",
            &target,
        ])
        .env("RUSTFLAGS", "--cfg loom --cfg crossbeam_loom")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env("LOOM_MAX_PREEMPTIONS", "2")
        .current_dir(root)
        .output()
        .expect("cargo runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "loom models of {package} failed:\n{stdout}\n{stderr}"
    );
    // The models ran (not filtered out or compiled away).
    assert!(
        stdout.contains("test result: ok.") && !stdout.contains(" 0 passed"),
        "no loom model of {package} ran:\n{stdout}"
    );
}

#[test]
fn runtime_loom_models() {
    run_models("marrow-runtime");
}

#[test]
fn collector_loom_models() {
    run_models("marrow-gc");
}
