//! Whole programs: the input's first byte picks the collector mode, the
//! rest is Scheme source run with a small budget (32 MiB heap, 20,000
//! procedure calls, depth 10,000). A run ends with a value or a Scheme
//! error; a panic, an abort or a signal is a bug.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marrow_gc::{GcConfig, GcMode};
use marrow_interp::Interp;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, src)) = data.split_first() else {
        return;
    };
    let src = String::from_utf8_lossy(src).into_owned();
    let mode = [GcMode::StopTheWorld, GcMode::Incremental, GcMode::Concurrent][usize::from(mode % 3)];
    std::thread::Builder::new()
        .stack_size(512 << 20)
        .spawn(move || {
            let mut config = GcConfig {
                mode,
                memlimit: Some(32 << 20),
                ..GcConfig::default()
            };
            config.heap.arena_size = 32 << 20;
            config.heap.min_arena_size = 32 << 20;
            let mut it = Interp::new(config, 10_000).expect("interpreter");
            it.set_quiet(true);
            it.close_stdin();
            it.set_max_steps(20_000);
            let _ = it.eval_str(&src, "<fuzz>");
        })
        .expect("thread")
        .join()
        .expect("the interpreter panicked");
});
