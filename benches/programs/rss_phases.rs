//! rss-phases: resident memory over time for a phase-changing workload
//! (grow, shrink, idle, grow), run once with the scavenger and once without
//! (`GcConfig::scavenge`), drawn as an SVG and summarised as a table
//! (issue 6, "Memory that comes back").
//!
//! Run: `cargo run --release -p marrow-suite --bin rss-phases`
//! (`--out PATH` for the figure, default `docs/rss-phases.svg`; `--scale F`
//! multiplies every heap size, e.g. `0.1` for a quick check). The program
//! re-runs itself as `rss-phases --child on|off [--scale F]`; a child prints
//! its time series on stdout, one `phase` or `sample` line each.
//!
//! The workload, per child:
//! 1. grow a list of 64-byte scan cells, each holding a no-scan block
//!    (256-1792 bytes; every 256th a 64 KiB large block), to 400 MiB live,
//!    then hold it for 1.5 s while allocating garbage at 200 MiB/s;
//! 2. cut the list to its first 40 MiB and keep allocating garbage for 3 s
//!    (collections run and the heap goal falls), then sit idle for 2 s;
//! 3. grow the list back to 250 MiB and hold it for 1.5 s with garbage.
//!
//! A sampler thread reads RSS from /proc/self/statm and `Heap::mem_stats()`
//! every 50 ms. MemStats read from another thread lag by what the mutator's
//! cache still holds, which does not matter at this scale.

use marrow_gc::runtime::mem::os_page_size;
use marrow_gc::runtime::{Heap, Type};
use marrow_gc::{Gc, GcConfig, Mutator};
use plotters::prelude::*;
use std::process::{Command, ExitCode};
use std::ptr::NonNull;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const MIB: u64 = 1 << 20;
/// Sampling period of the RSS and MemStats sampler.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);
/// Garbage allocation rate while holding or shrinking, bytes per second.
const GARBAGE_RATE: u64 = 200 * MIB;
/// Size of one scan cell: next, block, index, and padding to 64 bytes.
const CELL_SIZE: usize = 64;

/// The workload's phases, in order, with the label drawn on the figure.
const PHASES: [&str; 6] = [
    "grow to 400 MiB",
    "hold 400 MiB + garbage",
    "40 MiB live + garbage",
    "idle",
    "grow to 250 MiB",
    "hold 250 MiB + garbage",
];

/// One sampler reading.
#[derive(Clone, Copy, Debug, Default)]
struct Sample {
    /// Seconds since the child started.
    t: f64,
    rss: u64,
    heap_inuse: u64,
    heap_released: u64,
    sys: u64,
    next_gc: u64,
    num_gc: u32,
}

/// A child's whole record: phase start times and samples.
#[derive(Debug, Default)]
struct Series {
    phase_start: Vec<f64>,
    end: f64,
    samples: Vec<Sample>,
}

/// Resident set size of this process in bytes.
fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    pages * os_page_size() as u64
}

fn sample(heap: &Heap, start: Instant) -> Sample {
    let s = heap.mem_stats();
    Sample {
        t: start.elapsed().as_secs_f64(),
        rss: rss_bytes(),
        heap_inuse: s.heap_inuse,
        heap_released: s.heap_released,
        sys: s.sys,
        next_gc: s.next_gc,
        num_gc: s.num_gc,
    }
}

/// The mutator side of a child: a list of cells rooted by `roots[0]` (head)
/// and `roots[1]` (tail); further entries are temporaries.
struct Workload {
    m: Mutator,
    roots: Vec<usize>,
    cell: Type,
    /// Cells in the list.
    cells: u64,
    /// Bytes of cells and blocks in the list.
    live: u64,
}

fn die(what: &str, e: impl std::fmt::Display) -> ! {
    eprintln!("rss-phases: {what}: {e}");
    std::process::exit(1)
}

/// Size of the no-scan block of cell number `i`.
fn block_size(i: u64) -> usize {
    if i % 256 == 255 {
        64 << 10
    } else {
        256 + (i % 4) as usize * 512
    }
}

impl Workload {
    fn alloc_cell(&mut self) -> NonNull<u8> {
        self.m
            .alloc(&self.cell, &self.roots)
            .unwrap_or_else(|e| die("allocating a cell", e))
    }

    /// A no-scan block of `size` bytes, written through (as a program writes
    /// its data, so that its pages are resident).
    fn alloc_block(&mut self, size: usize, fill: u8) -> NonNull<u8> {
        let b = self
            .m
            .alloc_bytes(size, &self.roots)
            .unwrap_or_else(|e| die("allocating a block", e));
        // SAFETY: `b` is a fresh no-scan object of `size` bytes.
        unsafe { std::ptr::write_bytes(b.as_ptr(), fill, size) };
        b
    }

    /// Appends one cell and its block to the list.
    fn append(&mut self) {
        let i = self.cells;
        let c = self.alloc_cell();
        self.roots.push(c.as_ptr() as usize);
        let size = block_size(i);
        let b = self.alloc_block(size, i as u8);
        self.roots.pop();
        // SAFETY: `c` is a live cell of eight words (rooted until the block
        // was allocated, reachable from the list or `roots` after); the tail
        // is a live cell of the list.
        unsafe {
            self.m.write_ptr(c, 1, b.as_ptr() as usize);
            (c.as_ptr() as *mut usize).add(2).write(i as usize);
            match NonNull::new(self.roots[1] as *mut u8) {
                Some(tail) => self.m.write_ptr(tail, 0, c.as_ptr() as usize),
                None => self.roots[0] = c.as_ptr() as usize,
            }
        }
        self.roots[1] = c.as_ptr() as usize;
        self.cells += 1;
        self.live += (CELL_SIZE + size) as u64;
    }

    fn grow_to(&mut self, bytes: u64) {
        while self.live < bytes {
            self.append();
        }
    }

    /// Cuts the list after the cell where the first `bytes` end.
    fn shrink_to(&mut self, bytes: u64) {
        let mut p = self.roots[0];
        let mut live = 0;
        let mut cells = 0;
        while p != 0 {
            // SAFETY: `p` is a live cell of the list; word 2 is its index.
            let (next, i) = unsafe { ((p as *const usize).read(), (p as *const usize).add(2).read()) };
            assert_eq!(i as u64, cells, "list order");
            live += (CELL_SIZE + block_size(i as u64)) as u64;
            cells += 1;
            if live >= bytes || next == 0 {
                break;
            }
            p = next;
        }
        if p != 0 {
            // SAFETY: `p` is a live cell of the list; clearing its next field
            // drops the rest of the list.
            unsafe { self.m.write_ptr(NonNull::new_unchecked(p as *mut u8), 0, 0) };
        }
        self.roots[1] = p;
        self.cells = cells;
        self.live = live;
    }

    /// One short-lived cell with a 448-byte block: 512 bytes of garbage.
    fn garbage(&mut self) -> u64 {
        let c = self.alloc_cell();
        self.roots.push(c.as_ptr() as usize);
        let b = self.alloc_block(448, 0x5a);
        self.roots.pop();
        // SAFETY: `c` is a fresh cell of eight words, rooted while the block
        // was allocated; nothing has allocated since.
        unsafe { self.m.write_ptr(c, 1, b.as_ptr() as usize) };
        512
    }

    /// Allocates garbage at `GARBAGE_RATE` for `dur`, in 10 ms ticks.
    fn churn(&mut self, dur: Duration) {
        let start = Instant::now();
        let tick = Duration::from_millis(10);
        let per_tick = GARBAGE_RATE / 100;
        let mut k = 0;
        while start.elapsed() < dur {
            let mut done = 0;
            while done < per_tick {
                done += self.garbage();
            }
            k += 1;
            if let Some(d) = (start + tick * k).checked_duration_since(Instant::now()) {
                std::thread::sleep(d);
            }
        }
    }
}

/// The child: runs the workload and prints its series on stdout.
fn child(scavenge: bool, scale: f64) {
    let mut config = GcConfig::from_env().unwrap_or_else(|e| die("settings", e));
    config.scavenge = scavenge;
    let gc = Gc::new(config).unwrap_or_else(|e| die("creating the heap", e));
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let sampler = {
        let gc = gc.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let mut k = 0u32;
            loop {
                out.push(sample(gc.heap(), start));
                if stop.load(Ordering::Relaxed) {
                    return out;
                }
                k += 1;
                if let Some(d) = (start + SAMPLE_EVERY * k).checked_duration_since(Instant::now()) {
                    std::thread::sleep(d);
                }
            }
        })
    };
    let mut w = Workload {
        m: Mutator::new(&gc).unwrap_or_else(|e| die("mutator", e)),
        roots: vec![0, 0],
        cell: Type::new("cell", CELL_SIZE, 8, &[0, 8]).expect("valid type"),
        cells: 0,
        live: 0,
    };
    let mib = |n: u64| (n as f64 * scale) as u64 * MIB;
    let mut phase_start = Vec::new();
    let mut phase = |p: usize| {
        debug_assert_eq!(p, phase_start.len());
        phase_start.push(start.elapsed().as_secs_f64());
    };

    phase(0);
    w.grow_to(mib(400));
    phase(1);
    w.churn(Duration::from_millis(1500));
    phase(2);
    w.shrink_to(mib(40));
    w.churn(Duration::from_secs(3));
    phase(3);
    std::thread::sleep(Duration::from_secs(2));
    phase(4);
    w.grow_to(mib(250));
    phase(5);
    w.churn(Duration::from_millis(1500));
    let end = start.elapsed().as_secs_f64();

    stop.store(true, Ordering::Relaxed);
    let samples = sampler.join().expect("sampler thread");
    let s = w.m.stats();
    eprintln!(
        "rss-phases: child scavenge={}: {} GCs, {} cells live ({} MiB), heap_released {} MiB",
        if scavenge { "on" } else { "off" },
        s.num_gc,
        w.cells,
        w.live / MIB,
        s.heap_released / MIB
    );
    let mut out = String::new();
    for (i, t) in phase_start.iter().enumerate() {
        out += &format!("phase {i} {t:.4}\n");
    }
    out += &format!("end {end:.4}\n");
    for x in &samples {
        out += &format!(
            "sample {:.4} {} {} {} {} {} {}\n",
            x.t, x.rss, x.heap_inuse, x.heap_released, x.sys, x.next_gc, x.num_gc
        );
    }
    print!("{out}");
}

/// Parses a child's stdout.
fn parse_series(text: &str) -> Result<Series, String> {
    let mut s = Series::default();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let num = |i: usize| -> Result<f64, String> {
            f.get(i)
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("bad line {line:?}"))
        };
        match f.first() {
            Some(&"phase") => s.phase_start.push(num(2)?),
            Some(&"end") => s.end = num(1)?,
            Some(&"sample") => s.samples.push(Sample {
                t: num(1)?,
                rss: num(2)? as u64,
                heap_inuse: num(3)? as u64,
                heap_released: num(4)? as u64,
                sys: num(5)? as u64,
                next_gc: num(6)? as u64,
                num_gc: num(7)? as u32,
            }),
            _ => return Err(format!("unexpected line {line:?}")),
        }
    }
    if s.phase_start.len() != PHASES.len() || s.samples.is_empty() {
        return Err("incomplete series".to_string());
    }
    Ok(s)
}

fn run_child(scavenge: bool, scale: f64) -> Result<Series, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let out = Command::new(exe)
        .args([
            "--child",
            if scavenge { "on" } else { "off" },
            "--scale",
            &scale.to_string(),
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .map_err(|e| format!("starting the child: {e}"))?;
    if !out.status.success() {
        return Err(format!("child exited with {}", out.status));
    }
    parse_series(&String::from_utf8_lossy(&out.stdout))
}

/// The last sample taken at or before `t` (the first one if none).
fn at(s: &Series, t: f64) -> Sample {
    s.samples
        .iter()
        .rev()
        .find(|x| x.t <= t)
        .copied()
        .unwrap_or(s.samples[0])
}

fn mib_f(b: u64) -> f64 {
    b as f64 / MIB as f64
}

/// The table printed and pasted into docs/benchmarks.md.
fn table(runs: &[(&str, &Series)]) -> String {
    let mut t = String::from(
        "| run (MiB) | peak RSS | end of idle: RSS | Sys | HeapInuse | HeapReleased | RSS at end | GCs |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for (name, s) in runs {
        let peak = s.samples.iter().map(|x| x.rss).max().unwrap_or(0);
        let idle_end = at(s, s.phase_start[4]);
        let last = s.samples[s.samples.len() - 1];
        t += &format!(
            "| {name} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {:.0} | {} |\n",
            mib_f(peak),
            mib_f(idle_end.rss),
            mib_f(idle_end.sys),
            mib_f(idle_end.heap_inuse),
            mib_f(idle_end.heap_released),
            mib_f(last.rss),
            last.num_gc
        );
    }
    t
}

/// Draws the figure: RSS of both runs over time, the scavenger run's
/// HeapInuse for reference, and the phases (of the scavenger run) shaded.
fn plot(path: &str, on: &Series, off: &Series) -> Result<(), Box<dyn std::error::Error>> {
    let tmax = on.end.max(off.end).max(0.1);
    let ymax = on
        .samples
        .iter()
        .chain(&off.samples)
        .map(|x| mib_f(x.rss))
        .fold(0.0, f64::max)
        * 1.2;
    let root = SVGBackend::new(path, (960, 540)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Marrow RSS over time: grow 400 MiB, shrink to 40 MiB, idle, grow 250 MiB",
            ("sans-serif", 20),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0f64..tmax, 0f64..ymax)?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_desc("time (s)")
        .y_desc("RSS (MiB)")
        .x_label_formatter(&|v| format!("{v:.0}"))
        .y_label_formatter(&|v| format!("{v:.0}"))
        .draw()?;

    // Phases: shaded bands, a boundary line and a label at the top of each.
    let mut bounds = on.phase_start.clone();
    bounds.push(on.end);
    let shades = [RGBColor(70, 130, 180), RGBColor(200, 200, 200)];
    for (i, label) in PHASES.iter().enumerate() {
        let (x0, x1) = (bounds[i], bounds[i + 1]);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, 0.0), (x1, ymax)],
            shades[i % 2].mix(0.10).filled(),
        )))?;
        chart.draw_series(DashedLineSeries::new(
            [(x0, 0.0), (x0, ymax)],
            3,
            3,
            BLACK.mix(0.35).stroke_width(1),
        ))?;
        let y = ymax * if i % 2 == 0 { 0.975 } else { 0.93 };
        chart.draw_series(std::iter::once(Text::new(
            label.to_string(),
            (x0 + tmax * 0.004, y),
            ("sans-serif", 12).into_font().color(&BLACK.mix(0.75)),
        )))?;
    }

    let line =
        |s: &Series, f: fn(&Sample) -> u64| s.samples.iter().map(move |x| (x.t, mib_f(f(x)))).collect::<Vec<_>>();
    let blue = RGBColor(31, 119, 180);
    let red = RGBColor(214, 39, 40);
    chart
        .draw_series(LineSeries::new(line(off, |x| x.rss), red.stroke_width(2)))?
        .label("RSS, scavenger off")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], red.stroke_width(2)));
    chart
        .draw_series(LineSeries::new(line(on, |x| x.rss), blue.stroke_width(2)))?
        .label("RSS, scavenger on")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], blue.stroke_width(2)));
    let grey = RGBColor(90, 90, 90);
    chart
        .draw_series(DashedLineSeries::new(
            line(on, |x| x.heap_inuse),
            6,
            4,
            grey.stroke_width(1),
        ))?
        .label("HeapInuse, scavenger on")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], grey.stroke_width(1)));
    chart
        .configure_series_labels()
        // The middle of the idle phase: the scavenger-off line is near the
        // top there and the scavenger-on one near the bottom.
        .position(SeriesLabelPosition::MiddleMiddle)
        .label_font(("sans-serif", 13))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK.mix(0.5))
        .draw()?;
    root.present()?;
    Ok(())
}

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let mut child_mode = None;
    let mut scale = 1.0f64;
    let mut out = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/rss-phases.svg").to_string();
    let usage = || {
        eprintln!("usage: rss-phases [--out PATH] [--scale F]");
        ExitCode::from(2)
    };
    while let Some(a) = args.next() {
        match (a.as_str(), args.next()) {
            ("--child", Some(v)) if v == "on" || v == "off" => child_mode = Some(v == "on"),
            ("--scale", Some(v)) => match v.parse() {
                Ok(f) if f > 0.0 => scale = f,
                _ => return usage(),
            },
            ("--out", Some(v)) => out = v,
            _ => return usage(),
        }
    }
    if let Some(scavenge) = child_mode {
        child(scavenge, scale);
        return ExitCode::SUCCESS;
    }

    // The two runs one after the other, so they do not compete for the CPU.
    let mut runs = Vec::new();
    for scavenge in [true, false] {
        match run_child(scavenge, scale) {
            Ok(s) => runs.push(s),
            Err(e) => {
                eprintln!(
                    "rss-phases: run with scavenger {}: {e}",
                    if scavenge { "on" } else { "off" }
                );
                return ExitCode::FAILURE;
            }
        }
    }
    let (on, off) = (&runs[0], &runs[1]);
    if let Err(e) = plot(&out, on, off) {
        eprintln!("rss-phases: drawing {out}: {e}");
        return ExitCode::FAILURE;
    }
    println!("{}", table(&[("scavenger on", on), ("scavenger off", off)]));
    println!(
        "phases (s, scavenger on / off): {}",
        PHASES
            .iter()
            .enumerate()
            .map(|(i, p)| format!("{p} {:.2}/{:.2}", on.phase_start[i], off.phase_start[i]))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!("figure: {out}");
    ExitCode::SUCCESS
}
