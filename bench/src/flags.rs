//! Command-line flags with LevelDB db_bench's names and `--flag=value` syntax, plus
//! siltdb's additions (`--engine`, `--compression`, `--stall_timeout`).

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// The benchmarks run when `--benchmarks` is not given: LevelDB's order (fillsync before
/// fillrandom, so the reads run against the database fillrandom and overwrite built,
/// then compact and readrandom again on the settled database), restricted to what this
/// program implements.
pub const DEFAULT_BENCHMARKS: &str =
    "fillseq,fillsync,fillrandom,overwrite,readrandom,readmissing,readseq,compact,readrandom,flush";

/// Every benchmark name this program knows.
pub const KNOWN_BENCHMARKS: [&str; 9] = [
    "fillseq",
    "fillsync",
    "fillrandom",
    "overwrite",
    "readrandom",
    "readmissing",
    "readseq",
    "compact",
    "flush",
];

/// Which engine(s) to measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineChoice {
    Siltdb,
    Leveldb,
    Both,
}

impl EngineChoice {
    pub fn as_str(self) -> &'static str {
        match self {
            EngineChoice::Siltdb => "siltdb",
            EngineChoice::Leveldb => "leveldb",
            EngineChoice::Both => "both",
        }
    }
}

/// Table block compression, applied identically to both engines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Snappy,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Snappy => "snappy",
        })
    }
}

/// Parsed flags. Defaults are LevelDB db_bench's except where noted.
#[derive(Debug, Clone)]
pub struct Flags {
    pub benchmarks: Vec<String>,
    pub num: usize,
    /// Reads per thread for the read benchmarks; `None` means `num`.
    pub reads: Option<usize>,
    pub threads: usize,
    pub value_size: usize,
    pub compression_ratio: f64,
    pub histogram: bool,
    pub write_buffer_size: usize,
    /// Bits per key of a bloom filter for both engines; `None` (LevelDB's -1) writes none.
    pub bloom_bits: Option<usize>,
    /// LevelDB's block cache in bytes; `None` keeps LevelDB's default (8 MiB).
    pub cache_size: Option<usize>,
    pub use_existing_db: bool,
    /// Parent directory: each engine's database lives in `<db>/<engine>`.
    pub db: PathBuf,
    pub compression: Compression,
    pub engine: EngineChoice,
    /// Seconds without a finished operation after which a run is reported as stalled.
    pub stall_timeout: u64,
    /// Set on the re-executed per-engine child: also print machine-readable records.
    pub child: bool,
}

impl Default for Flags {
    fn default() -> Self {
        Flags {
            benchmarks: split_benchmarks(DEFAULT_BENCHMARKS),
            num: 1_000_000,
            reads: None,
            threads: 1,
            value_size: 100,
            compression_ratio: 0.5,
            histogram: false,
            write_buffer_size: 4 << 20,
            bloom_bits: None,
            cache_size: None,
            use_existing_db: false,
            db: std::env::var_os("TEST_TMPDIR")
                .map(PathBuf::from)
                .unwrap_or_else(std::env::temp_dir)
                .join("siltdb-bench"),
            compression: Compression::None,
            engine: EngineChoice::Both,
            stall_timeout: 60,
            child: false,
        }
    }
}

/// What the command line asked for.
pub enum Command {
    Run(Flags),
    Help,
}

pub const HELP: &str = "\
db_bench: siltdb side by side with LevelDB (through its C API), LevelDB's flag names.

USAGE: db_bench [--flag=value ...]

  --benchmarks=a,b,...   in order; default
                         fillseq,fillsync,fillrandom,overwrite,readrandom,readmissing,readseq,
                         compact,readrandom,flush
      fillseq      write --num values in sequential key order (fresh database)
      fillsync     write --num/1000 values in random order, fsync each write (fresh
                   database). num/1000 as LevelDB 1.23's db_bench code does; its comment
                   says N/100, its code divides by 1000
      fillrandom   write --num values in random key order (fresh database)
      overwrite    write --num values in random key order into the existing database
      readrandom   --reads gets of random existing keys
      readmissing  --reads gets of random keys that are absent (16-byte key minus its
                   last byte)
      readseq      iterate --reads entries from the first
      compact      compact the whole database as it stands and wait (siltdb:
                   compact_range(None, None); LevelDB: CompactRange(NULL, NULL)); MB/s of
                   table files before, and the process's CPU time
      flush        fresh database; fill one memtable to just below --write_buffer_size,
                   then time only flush(wait) (LevelDB: compact_range over an empty range
                   past all keys, which flushes the memtable and waits); MB/s of memtable
  --num=N                entries (1000000)
  --reads=N              reads per thread; default --num
  --threads=N            threads, each doing the full count (1)
  --value_size=N         value bytes (100); keys are 16 bytes, printf(\"%016d\")
  --compression_ratio=F  values compress to this fraction (0.5), as LevelDB's
  --write_buffer_size=N  memtable bytes (4194304)
  --compression=none|snappy   block compression for both engines (none)
  --bloom_bits=N         bloom filter bits per key for both engines (default: none)
  --cache_size=N         block cache bytes for both engines (default: 8 MiB, LevelDB's)
  --histogram=0|1        print a latency histogram per benchmark (0)
  --use_existing_db=0|1  do not destroy the database first; fresh-database benchmarks
                         are skipped (0)
  --db=DIR               parent directory; each engine uses DIR/<engine>
                         ($TEST_TMPDIR or the temp dir, /siltdb-bench)
  --engine=siltdb|leveldb|both   (both) each engine runs in a child process of its own,
                         so peak RSS is per engine; both prints a side-by-side table
  --stall_timeout=S      report a benchmark as STALLED after S seconds without a
                         finished operation, and end that engine's run (60)
  --help
";

/// Parses `args` (without the program name).
pub fn parse<I, S>(args: I) -> Result<Command, String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let mut flags = Flags::default();
    for arg in args {
        let arg = arg.as_ref();
        if arg == "--help" || arg == "-h" {
            return Ok(Command::Help);
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(format!("Invalid flag '{arg}'"));
        };
        let (name, value) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let invalid = || format!("Invalid flag '{arg}'");
        // A bare boolean flag means 1, as a convenience beyond LevelDB's `=0|1`.
        let boolean = || match value {
            None | Some("1") => Ok(true),
            Some("0") => Ok(false),
            Some(_) => Err(invalid()),
        };
        let need = || value.ok_or_else(invalid);
        match name {
            "benchmarks" => flags.benchmarks = split_benchmarks(need()?),
            "num" => flags.num = number(need()?, arg)?,
            "reads" => flags.reads = signed_or_default(need()?, arg)?,
            "threads" => flags.threads = number::<usize>(need()?, arg)?.max(1),
            "value_size" => flags.value_size = number(need()?, arg)?,
            "compression_ratio" => flags.compression_ratio = number(need()?, arg)?,
            "histogram" => flags.histogram = boolean()?,
            "write_buffer_size" => flags.write_buffer_size = number(need()?, arg)?,
            "bloom_bits" => flags.bloom_bits = signed_or_default(need()?, arg)?,
            "cache_size" => flags.cache_size = signed_or_default(need()?, arg)?,
            "use_existing_db" => flags.use_existing_db = boolean()?,
            "db" => flags.db = PathBuf::from(need()?),
            "compression" => {
                flags.compression = match need()? {
                    "none" => Compression::None,
                    "snappy" => Compression::Snappy,
                    _ => return Err(invalid()),
                }
            }
            "engine" => {
                flags.engine = match need()? {
                    "siltdb" => EngineChoice::Siltdb,
                    "leveldb" => EngineChoice::Leveldb,
                    "both" => EngineChoice::Both,
                    _ => return Err(invalid()),
                }
            }
            "stall_timeout" => flags.stall_timeout = number::<u64>(need()?, arg)?,
            "child" => flags.child = boolean()?,
            _ => return Err(invalid()),
        }
    }
    if flags.value_size == 0 {
        return Err("--value_size must be at least 1".to_string());
    }
    if flags.num == 0 {
        return Err("--num must be at least 1".to_string());
    }
    // Keys are printf("%016d") of an int, as LevelDB's: larger counts would not fit.
    if flags.num > i32::MAX as usize {
        return Err(format!("--num must be at most {}", i32::MAX));
    }
    if !(flags.compression_ratio > 0.0 && flags.compression_ratio <= 1.0) {
        return Err("--compression_ratio must be in (0, 1]".to_string());
    }
    if flags.write_buffer_size < 64 << 10 {
        return Err("--write_buffer_size must be at least 65536".to_string());
    }
    Ok(Command::Run(flags))
}

fn split_benchmarks(list: &str) -> Vec<String> {
    list.split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn number<T: FromStr>(value: &str, arg: &str) -> Result<T, String> {
    value.parse().map_err(|_| format!("Invalid flag '{arg}'"))
}

/// LevelDB's convention: a negative value means "the default".
fn signed_or_default(value: &str, arg: &str) -> Result<Option<usize>, String> {
    let n: i64 = number(value, arg)?;
    Ok(usize::try_from(n).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Flags {
        match parse(args) {
            Ok(Command::Run(f)) => f,
            Ok(Command::Help) => panic!("help"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn defaults_match_leveldb_db_bench() {
        let f = run(&[]);
        assert_eq!(f.num, 1_000_000);
        assert_eq!(f.value_size, 100);
        assert_eq!(f.write_buffer_size, 4 << 20);
        assert_eq!(f.bloom_bits, None);
        assert_eq!(f.compression, Compression::None);
        assert_eq!(f.engine, EngineChoice::Both);
        assert_eq!(f.benchmarks.len(), 10);
        assert!(f
            .benchmarks
            .iter()
            .all(|b| KNOWN_BENCHMARKS.contains(&b.as_str())));
        // Like LevelDB's list: readrandom again once compact has settled the database.
        assert_eq!(f.benchmarks[7..9], ["compact", "readrandom"]);
    }

    #[test]
    fn leveldb_style_flags_parse() {
        let f = run(&[
            "--benchmarks=fillrandom,flush",
            "--num=1000",
            "--histogram=1",
            "--bloom_bits=10",
            "--reads=-1",
            "--engine=siltdb",
            "--compression=snappy",
            "--db=/x",
        ]);
        assert_eq!(f.benchmarks, ["fillrandom", "flush"]);
        assert_eq!(f.num, 1000);
        assert!(f.histogram);
        assert_eq!(f.bloom_bits, Some(10));
        assert_eq!(f.reads, None);
        assert_eq!(f.engine, EngineChoice::Siltdb);
        assert_eq!(f.compression, Compression::Snappy);
        assert_eq!(f.db, PathBuf::from("/x"));
    }

    #[test]
    fn unknown_or_malformed_flags_are_rejected_by_name() {
        for bad in [
            "--nope=1",
            "--num=abc",
            "--histogram=2",
            "num=3",
            "--engine=rocks",
        ] {
            let Err(e) = parse([bad]) else {
                panic!("{bad} accepted")
            };
            assert!(e.contains(bad), "{e}");
        }
        assert!(matches!(parse(["--help"]), Ok(Command::Help)));
    }
}
