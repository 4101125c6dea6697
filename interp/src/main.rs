//! The `marrow` binary: runs Scheme scripts, `-e` expressions or a REPL on
//! the Marrow heap, with the collector's settings as flags.

use marrow_gc::{GcConfig, GcMode};
use marrow_interp::{Failure, Interp, DEFAULT_MAX_DEPTH};

mod repl;

const HELP: &str = "\
marrow: a Scheme interpreter on the Marrow heap

usage:
  marrow [FLAGS] FILE.scm [ARGS...]   run a script ((command-line) = (FILE ARGS...))
  marrow [FLAGS] -e EXPR              evaluate EXPR and print the result with write
  marrow [FLAGS]                      interactive REPL (line editing and history)

flags:
  --gogc N          heap growth % between collections, or off (env MARROW_GOGC)
  --memlimit SIZE   memory limit, e.g. 256MiB; the heap cannot grow past it
                    (env MARROW_MEMLIMIT)
  --gctrace         one line per collection on stderr (env MARROW_GCTRACE=1)
  --stats           print a MemStats summary and the collector's CPU share
                    (pauses plus assists and background marking) at exit
  --heap-check      checkmark mode: verify every mark (env MARROW_CHECKMARK=1)
  --gc-stress N     collect every N allocations (env MARROW_GCSTRESS)
  --gc-mode MODE    incremental (default: marking in small steps as the
                    program allocates, so pauses stay short), concurrent
                    (plus a background marking thread) or stw
                    (env MARROW_GCMODE)
  --max-depth N     limit on non-tail call depth (default 10000000)
  --max-steps N     stop the program with an error after N procedure calls
  -h, --help        this text

exit status: 0 on success, 1 on an uncaught error, 2 on a usage error,
or the value given to (exit).";

/// Flags that set a collector option (by its name in `GcConfig::set`).
const GC_FLAGS: &[(&str, &str)] = &[
    ("--gogc", "gogc"),
    ("--memlimit", "memlimit"),
    ("--gc-stress", "stress"),
    ("--gc-mode", "mode"),
];

struct Opts {
    config: GcConfig,
    stats: bool,
    max_depth: usize,
    max_steps: Option<u64>,
    expr: Option<String>,
    file: Option<String>,
    args: Vec<String>,
}

/// Largest `--memlimit` (the arena is reserved address space: 64 TiB).
const MAX_MEMLIMIT: usize = 1 << 46;

fn usage(msg: &str) -> ! {
    eprintln!("marrow: {msg}\nTry 'marrow --help'.");
    std::process::exit(2);
}

fn parse_args() -> Opts {
    // Incremental marking by default: the REPL never pauses for a whole mark.
    let mut config = GcConfig {
        mode: GcMode::Incremental,
        ..GcConfig::default()
    };
    if let Err(e) = config.apply_env_with(|k| std::env::var(k).ok()) {
        usage(&e.to_string());
    }
    let mut o = Opts {
        config: GcConfig::default(),
        stats: false,
        max_depth: DEFAULT_MAX_DEPTH,
        max_steps: None,
        expr: None,
        file: None,
        args: Vec::new(),
    };
    let argv: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .unwrap_or_else(|a| usage(&format!("argument {a:?} is not valid UTF-8")))
        })
        .collect();
    let mut i = 0;
    let value = |i: &mut usize, flag: &str| -> String {
        *i += 1;
        match argv.get(*i) {
            Some(v) => v.clone(),
            None => usage(&format!("{flag} needs a value")),
        }
    };
    while i < argv.len() {
        let a = argv[i].clone();
        let (flag, inline) = match a.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (a.clone(), None),
        };
        let get = |i: &mut usize| inline.clone().unwrap_or_else(|| value(i, &flag));
        if let Some(&(_, option)) = GC_FLAGS.iter().find(|(f, _)| *f == flag) {
            let v = get(&mut i);
            if let Err(e) = config.set(option, &v) {
                usage(&e.to_string());
            }
            i += 1;
            continue;
        }
        match flag.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                std::process::exit(0);
            }
            "--max-depth" => {
                let v = get(&mut i);
                o.max_depth = match v.parse::<usize>() {
                    Ok(n) if n > 0 => n,
                    _ => usage(&format!("--max-depth: expected a positive number, got {v:?}")),
                };
            }
            "--max-steps" => {
                let v = get(&mut i);
                o.max_steps = match v.parse::<u64>() {
                    Ok(n) if n > 0 => Some(n),
                    _ => usage(&format!("--max-steps: expected a positive number, got {v:?}")),
                };
            }
            "--gctrace" => {
                config.gctrace = match inline.as_deref() {
                    None | Some("1" | "true" | "on" | "yes") => true,
                    Some("0" | "false" | "off" | "no") => false,
                    Some(v) => usage(&format!("--gctrace: expected 0 or 1, got {v:?}")),
                }
            }
            "--stats" => o.stats = true,
            "--heap-check" => config.checkmark = true,
            "-e" => {
                o.expr = Some(value(&mut i, "-e"));
            }
            _ if a.starts_with('-') && a.len() > 1 => usage(&format!("unknown flag {a}")),
            _ if o.expr.is_some() => usage(&format!("-e cannot be combined with a script file ({a})")),
            _ => {
                o.file = Some(a.clone());
                o.args = argv[i + 1..].to_vec();
                break;
            }
        }
        i += 1;
    }
    if let Some(limit) = config.memlimit {
        // The limit is also the arena size, so exhausting it is a clean
        // Scheme error rather than unbounded growth.
        let align = marrow_runtime::ARENA_ALIGN as u64;
        let size = limit
            .max(16 << 20)
            .div_ceil(align)
            .checked_mul(align)
            .and_then(|s| usize::try_from(s).ok())
            .filter(|&s| s <= MAX_MEMLIMIT)
            .unwrap_or_else(|| {
                usage(&format!(
                    "--memlimit: {limit} bytes is more than this machine can address"
                ))
            });
        config.heap.arena_size = size;
        config.heap.min_arena_size = size;
    }
    o.config = config;
    o
}

fn main() {
    let o = parse_args();
    // The interpreter runs on a thread with a large stack: the reader and
    // compiler recurse (bounded by their nesting limits).
    let child = std::thread::Builder::new()
        .name("marrow".into())
        .stack_size(1 << 30)
        .spawn(move || run(o));
    let code = match child {
        Ok(h) => h.join().unwrap_or_else(|_| {
            eprintln!("marrow: internal error (panic)");
            70
        }),
        Err(e) => {
            eprintln!("marrow: cannot start the interpreter thread: {e}");
            70
        }
    };
    std::process::exit(code);
}

fn run(o: Opts) -> i32 {
    let mut it = match Interp::new(o.config, o.max_depth) {
        Ok(it) => it,
        Err(e) => {
            eprintln!("marrow: {e}");
            return 1;
        }
    };
    if let Some(n) = o.max_steps {
        it.set_max_steps(n);
    }
    let code = if let Some(e) = &o.expr {
        it.set_args(vec!["-e".into()]);
        match it.eval_str(e, "<command line>") {
            Ok(v) => {
                let s = it.write(&v);
                it.flush();
                if !v.is_unspecified() {
                    println!("{s}");
                }
                0
            }
            Err(f) => report(&mut it, f),
        }
    } else if let Some(file) = &o.file {
        let mut args = vec![file.clone()];
        args.extend(o.args.iter().cloned());
        it.set_args(args);
        match it.run_file(file) {
            Ok(_) => 0,
            Err(f) => report(&mut it, f),
        }
    } else {
        it.set_args(vec!["marrow".into()]);
        repl::repl(&mut it)
    };
    it.flush();
    if o.stats {
        print_stats(&mut it);
    }
    code
}

/// Prints an uncaught error or returns the exit code of `(exit)`.
pub fn report(it: &mut Interp, f: Failure) -> i32 {
    it.flush();
    match f {
        Failure::Exit(c) => c,
        f => {
            eprintln!("{}", it.describe(&f));
            1
        }
    }
}

fn print_stats(it: &mut Interp) {
    let s = it.stats();
    let elapsed = it.elapsed().as_secs_f64();
    let gc_s = s.pause_total_ns as f64 / 1e9;
    let mark_s = it.gc().concurrent_mark_cpu_ns() as f64 / 1e9;
    eprintln!("marrow stats:");
    eprintln!("  run time        {elapsed:.3} s");
    eprintln!(
        "  gc time         {gc_s:.3} s ({:.1}% of run time) in {} collections (pauses)",
        100.0 * gc_s / elapsed.max(1e-9),
        s.num_gc
    );
    // The collector's CPU share: its pauses plus the marking done outside
    // them (mutator assists and background workers), against run time.
    eprintln!(
        "  gc cpu          {:.3} s = {:.1}% of run time: pauses {gc_s:.3} s + assists and background marking {mark_s:.3} s",
        gc_s + mark_s,
        100.0 * (gc_s + mark_s) / elapsed.max(1e-9),
    );
    let w = it.gc().weak_totals();
    eprintln!(
        "  weak            {} weak references cleared, ephemerons {} kept {} cleared, {} guarded objects returned, finalizers {} queued {} run",
        w.weak_cleared, w.ephemerons_kept, w.ephemerons_cleared, w.guarded_returned, w.cleanups_queued, w.cleanups_run
    );
    eprintln!(
        "  total alloc     {:.1} MiB in {} objects",
        s.total_alloc as f64 / 1048576.0,
        s.mallocs
    );
    eprintln!(
        "  heap alloc      {:.1} MiB ({} objects live)",
        s.heap_alloc as f64 / 1048576.0,
        s.heap_objects
    );
    eprintln!(
        "  heap sys        {:.1} MiB, in use {:.1} MiB",
        s.heap_sys as f64 / 1048576.0,
        s.heap_inuse as f64 / 1048576.0
    );
    eprintln!(
        "  mapped          {:.1} MiB ({:.1} MiB of heap returned to the OS)",
        s.sys as f64 / 1048576.0,
        s.heap_released as f64 / 1048576.0
    );
    eprintln!("  next gc         {:.1} MiB", s.next_gc as f64 / 1048576.0);
    eprintln!(
        "  max pause       {:.3} ms",
        s.pause_ns.iter().copied().max().unwrap_or(0) as f64 / 1e6
    );
}
