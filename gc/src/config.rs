//! Collector settings: one table of options (name, default, environment
//! variable, validation), in the way MMTk keeps its options, instead of
//! reads of the environment scattered through the code.
//!
//! | option       | default | environment          | meaning |
//! |--------------|---------|----------------------|---------|
//! | `gogc`       | 100     | `MARROW_GOGC`        | heap growth % between collections; `off` disables |
//! | `memlimit`   | none    | `MARROW_MEMLIMIT`    | soft limit on mapped memory, e.g. `512MiB` |
//! | `gctrace`    | false   | `MARROW_GCTRACE`     | one line per cycle on stderr (`1`) |
//! | `checkmark`  | false   | `MARROW_CHECKMARK`   | re-mark from scratch after each mark and compare |
//! | `clobber`    | false   | `MARROW_CLOBBERFREE` | poison freed objects; check the poison on reuse |
//! | `stress`     | 0       | `MARROW_GCSTRESS`    | collect every N allocations (0: off) |
//! | `min_heap`   | 4 MiB   | `MARROW_MINHEAP`     | smallest heap goal |
//! | `scavenge`   | true    | `MARROW_SCAVENGE`    | background sweeping and return of free memory to the OS |
//! | `mode`       | concurrent | `MARROW_GCMODE`   | `stw`, `incremental` or `concurrent` marking |
//! | `workers`    | cores   | `MARROW_GCWORKERS`   | marking threads in a stopped world (1: no helper threads) |

use marrow_runtime::HeapConfig;
use std::fmt;

/// The byte freed objects are filled with in clobber mode.
pub const CLOBBER_BYTE: u8 = 0xDB;

/// Collector and heap settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcConfig {
    /// Heap growth percentage between collections; `None` is GOGC=off.
    pub gogc: Option<u32>,
    /// Soft memory limit in bytes (all mapped memory, metadata included).
    pub memlimit: Option<u64>,
    /// Print one line per cycle on stderr.
    pub gctrace: bool,
    /// Verify every mark by re-marking from scratch.
    pub checkmark: bool,
    /// Poison freed objects and check the poison when they are reused.
    pub clobber: bool,
    /// Collect every N allocations (0: off).
    pub stress: u64,
    /// Smallest heap goal in bytes.
    pub min_heap: u64,
    /// Run the background sweeper and scavenger, which return free pages
    /// beyond the retained goal to the OS.
    pub scavenge: bool,
    /// How marking runs.
    pub mode: GcMode,
    /// Threads that mark while the world is stopped, the calling one
    /// included (1: no helper threads). Concurrent mode also runs a quarter
    /// of them (at least one) in the background while mutators run.
    pub workers: usize,
    /// Settings of the underlying heap.
    pub heap: HeapConfig,
}

/// How marking runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GcMode {
    /// The world stops for the whole mark (on `workers` threads).
    StopTheWorld,
    /// After a short stop for the roots, mutators mark as they allocate
    /// (assists) until the mark is done: short pauses, no extra thread.
    Incremental,
    /// As incremental, plus background mark workers.
    Concurrent,
}

impl GcMode {
    /// Whether marking runs alongside the mutators.
    pub fn is_concurrent(self) -> bool {
        self != GcMode::StopTheWorld
    }
}

/// The default worker count: the machine's cores.
fn default_workers() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).min(64)
}

impl Default for GcConfig {
    fn default() -> Self {
        GcConfig {
            gogc: Some(100),
            memlimit: None,
            gctrace: false,
            checkmark: false,
            clobber: false,
            stress: 0,
            min_heap: 4 << 20,
            scavenge: true,
            mode: GcMode::Concurrent,
            workers: default_workers(),
            heap: HeapConfig::default(),
        }
    }
}

/// A setting with a value that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The option or environment variable.
    pub name: String,
    /// The value given.
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} value {:?}: expected {}",
            self.name, self.value, self.expected
        )
    }
}

impl std::error::Error for ConfigError {}

/// One option of the table: its name, environment variable, and how to
/// parse and store a value.
struct OptionSpec {
    name: &'static str,
    env: &'static str,
    apply: fn(&mut GcConfig, &str) -> Result<(), &'static str>,
}

/// One row: `option!(name, ENV, field, parser)` where the parser turns the
/// text into the field's value or says what it expected.
macro_rules! option {
    ($name:literal, $env:literal, $field:ident, $parse:expr) => {
        OptionSpec {
            name: $name,
            env: $env,
            apply: |c, v| {
                c.$field = $parse(v)?;
                Ok(())
            },
        }
    };
}

const OPTIONS: &[OptionSpec] = &[
    option!("gogc", "MARROW_GOGC", gogc, parse_gogc),
    option!("memlimit", "MARROW_MEMLIMIT", memlimit, parse_limit),
    option!("gctrace", "MARROW_GCTRACE", gctrace, parse_bool),
    option!("checkmark", "MARROW_CHECKMARK", checkmark, parse_bool),
    option!("clobber", "MARROW_CLOBBERFREE", clobber, parse_bool),
    option!("stress", "MARROW_GCSTRESS", stress, parse_count),
    option!("scavenge", "MARROW_SCAVENGE", scavenge, parse_bool),
    option!("min_heap", "MARROW_MINHEAP", min_heap, parse_min_heap),
    option!("mode", "MARROW_GCMODE", mode, parse_mode),
    option!("workers", "MARROW_GCWORKERS", workers, parse_workers),
];

impl GcConfig {
    /// Sets option `name` (from the table above) from its textual value.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), ConfigError> {
        let spec = OPTIONS.iter().find(|o| o.name == name).ok_or_else(|| ConfigError {
            name: name.to_string(),
            value: value.to_string(),
            expected: "a known option (gogc, memlimit, gctrace, checkmark, clobber, stress, scavenge, min_heap, mode, workers)",
        })?;
        (spec.apply)(self, value).map_err(|expected| ConfigError {
            name: name.to_string(),
            value: value.to_string(),
            expected,
        })
    }

    /// Applies every option whose environment variable is set, reading
    /// through `getenv` (tests pass their own).
    pub fn apply_env_with(&mut self, getenv: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        for spec in OPTIONS {
            if let Some(v) = getenv(spec.env) {
                (spec.apply)(self, &v).map_err(|expected| ConfigError {
                    name: spec.env.to_string(),
                    value: v.clone(),
                    expected,
                })?;
            }
        }
        Ok(())
    }

    /// The defaults overridden by the process environment.
    pub fn from_env() -> Result<GcConfig, ConfigError> {
        let mut c = GcConfig::default();
        c.apply_env_with(|k| std::env::var(k).ok())?;
        Ok(c)
    }

    /// The heap settings, with the collector's debug modes applied.
    pub(crate) fn heap_config(&self) -> HeapConfig {
        let mut h = self.heap.clone();
        if self.clobber {
            h.clobber_free = Some(CLOBBER_BYTE);
        }
        h
    }
}

fn parse_gogc(v: &str) -> Result<Option<u32>, &'static str> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    match v.parse::<u32>() {
        Ok(n) if n <= 1_000_000 => Ok(Some(n)),
        _ => Err("a percentage from 0 to 1000000, or off"),
    }
}

fn parse_limit(v: &str) -> Result<Option<u64>, &'static str> {
    let v = v.trim();
    if v.eq_ignore_ascii_case("off") || v.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    match parse_size(v) {
        Some(n) if n > 0 => Ok(Some(n)),
        _ => Err("a size such as 512MiB, 2GiB or 1000000 (bytes), or off"),
    }
}

fn parse_count(v: &str) -> Result<u64, &'static str> {
    v.trim()
        .parse()
        .map_err(|_| "a whole number of allocations (0 for off)")
}

fn parse_min_heap(v: &str) -> Result<u64, &'static str> {
    parse_size(v).ok_or("a size such as 4MiB")
}

fn parse_mode(v: &str) -> Result<GcMode, &'static str> {
    match v.trim() {
        "stw" | "stop-the-world" => Ok(GcMode::StopTheWorld),
        "incremental" => Ok(GcMode::Incremental),
        "concurrent" => Ok(GcMode::Concurrent),
        _ => Err("stw, incremental or concurrent"),
    }
}

fn parse_workers(v: &str) -> Result<usize, &'static str> {
    match v.trim().parse::<usize>() {
        Ok(n) if (1..=64).contains(&n) => Ok(n),
        _ => Err("a number of threads from 1 to 64"),
    }
}

fn parse_bool(v: &str) -> Result<bool, &'static str> {
    match v.trim() {
        "1" | "true" | "on" | "yes" => Ok(true),
        "0" | "false" | "off" | "no" | "" => Ok(false),
        _ => Err("1 or 0"),
    }
}

/// Parses a size with an optional unit: `B`, `KiB`, `MiB`, `GiB`, `TiB`
/// (powers of 1024; `K`, `M`, `G`, `T`, `KB`, `MB`, `GB`, `TB` are taken as
/// the same, as Go's GOMEMLIMIT does not accept them but users type them).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (num, unit) = s.split_at(split);
    if num.is_empty() {
        return None;
    }
    let n: u64 = num.parse().ok()?;
    let mult: u64 = match unit.trim() {
        "" | "B" => 1,
        "K" | "KB" | "KiB" | "k" => 1 << 10,
        "M" | "MB" | "MiB" => 1 << 20,
        "G" | "GB" | "GiB" => 1 << 30,
        "T" | "TB" | "TiB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_units() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1000"), Some(1000));
        assert_eq!(parse_size("64K"), Some(64 << 10));
        assert_eq!(parse_size("MiB"), None);
        assert_eq!(parse_size("12XB"), None);
        assert_eq!(parse_size("99999999999999999999"), None);
        assert_eq!(parse_size("20000000TiB"), None);
    }

    #[test]
    fn env_overrides_and_rejects() {
        let env = |k: &str| match k {
            "MARROW_GOGC" => Some("off".to_string()),
            "MARROW_MEMLIMIT" => Some("256MiB".to_string()),
            "MARROW_GCTRACE" => Some("1".to_string()),
            _ => None,
        };
        let mut c = GcConfig::default();
        c.apply_env_with(env).unwrap();
        assert_eq!(c.gogc, None);
        assert_eq!(c.memlimit, Some(256 << 20));
        assert!(c.gctrace);
        let bad = |k: &str| (k == "MARROW_GOGC").then(|| "lots".to_string());
        let e = GcConfig::default().apply_env_with(bad).unwrap_err();
        assert_eq!(e.name, "MARROW_GOGC");
        assert!(e.to_string().contains("\"lots\""), "{e}");
        let bad = |k: &str| (k == "MARROW_MEMLIMIT").then(|| "12 parsecs".to_string());
        assert!(GcConfig::default().apply_env_with(bad).is_err());
    }

    #[test]
    fn set_by_name() {
        let mut c = GcConfig::default();
        c.set("gogc", "50").unwrap();
        assert_eq!(c.gogc, Some(50));
        c.set("stress", "10").unwrap();
        assert_eq!(c.stress, 10);
        assert!(c.set("gogc", "-3").is_err());
        c.set("mode", "incremental").unwrap();
        assert_eq!(c.mode, GcMode::Incremental);
        assert!(c.set("mode", "sometimes").is_err());
        c.set("workers", "3").unwrap();
        assert_eq!(c.workers, 3);
        assert!(c.set("workers", "0").is_err());
        assert!(c.set("colour", "blue").is_err());
    }
}
