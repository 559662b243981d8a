//! What a reader needs to judge the numbers: machine, load, data sizes and the options
//! both engines ran with (db_bench's header, plus the load average, since absolute
//! times drift on shared machines).

use crate::flags::Flags;

/// db_bench's header lines.
pub fn header(flags: &Flags, engines: &str) -> String {
    let key_size = 16usize;
    let compressed = (flags.value_size as f64 * flags.compression_ratio + 0.5) as usize;
    let raw = (key_size + flags.value_size) as f64 * flags.num as f64 / 1_048_576.0;
    let file = (key_size as f64 + flags.value_size as f64 * flags.compression_ratio)
        * flags.num as f64
        / 1_048_576.0;
    let bloom = flags
        .bloom_bits
        .filter(|&b| b > 0)
        .map(|b| format!("{b} bits/key"))
        .unwrap_or_else(|| "none".to_string());
    let cache = flags
        .cache_size
        .map(|c| format!("{c} bytes"))
        .unwrap_or_else(|| "8 MiB".to_string());
    format!(
        "Engines:    {engines}\n\
         CPU:        {}\n\
         Load:       {} (1/5/15-minute load average at start)\n\
         Keys:       {key_size} bytes each\n\
         Values:     {} bytes each ({compressed} bytes after compression)\n\
         Entries:    {}\n\
         RawSize:    {raw:.1} MB (estimated)\n\
         FileSize:   {file:.1} MB (estimated)\n\
         Options:    write_buffer_size={} compression={} bloom={bloom} threads={} \
         block cache: {cache} for both; reads without checksum verification\n\
         DB:         {}/<engine>\n\
         ------------------------------------------------",
        cpu(),
        load_average(),
        flags.value_size,
        flags.num,
        flags.write_buffer_size,
        flags.compression,
        flags.threads,
        flags.db.display(),
    )
}

/// "2 * AMD EPYC" from /proc/cpuinfo, or what the standard library knows.
fn cpu() -> String {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let models: Vec<&str> = info
        .lines()
        .filter(|l| l.starts_with("model name"))
        .filter_map(|l| l.split_once(':').map(|(_, v)| v.trim()))
        .collect();
    match models.first() {
        Some(model) => format!("{} * {model}", models.len()),
        None => format!(
            "{} cpus",
            std::thread::available_parallelism().map_or(0, |n| n.get())
        ),
    }
}

/// The first three fields of /proc/loadavg.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "n/a".to_string())
}
