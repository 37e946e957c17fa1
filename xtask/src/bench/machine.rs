//! Facts about the machine and the software, for the report.

use std::path::Path;
use std::process::Command;

use super::peers::Peers;

pub struct Facts {
    pub machine: Vec<(&'static str, String)>,
    pub versions: Vec<(&'static str, String)>,
}

fn output(program: &str, args: &[&str], dir: &Path) -> Option<String> {
    let output = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// The 1-, 5- and 15-minute load averages: how busy the machine was.
pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|line| {
            line.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn cpu_model() -> Option<String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").ok()?;
    cpuinfo
        .lines()
        .find_map(|line| line.strip_prefix("model name"))
        .map(|rest| rest.trim_start_matches([' ', '\t', ':']).to_owned())
}

fn memory_gib() -> Option<f64> {
    let meminfo = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib: f64 = meminfo
        .lines()
        .find_map(|line| line.strip_prefix("MemTotal:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kib / (1024.0 * 1024.0))
}

pub fn gather(root: &Path, peers: &Peers, load_before: &str) -> Facts {
    let unknown = || "unknown".to_owned();
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let machine = vec![
        ("CPU", cpu_model().unwrap_or_else(unknown)),
        ("cores (nproc)", cores.to_string()),
        (
            "memory",
            memory_gib().map_or_else(unknown, |gib| format!("{gib:.1} GiB")),
        ),
        (
            "kernel",
            std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map_or_else(|_| unknown(), |release| release.trim().to_owned()),
        ),
        (
            "load average (1, 5, 15 min) before / after",
            format!("{load_before} / {}", load_average()),
        ),
    ];
    let commit = output("git", &["rev-parse", "--short", "HEAD"], root).unwrap_or_else(unknown);
    let (python, node) = peers.runtimes();
    let absent = || "not installed".to_owned();
    let versions = vec![
        (
            "rustc",
            output("rustc", &["--version"], root).unwrap_or_else(unknown),
        ),
        (
            "fal-kontext, fal-emulator",
            format!("{} (commit {commit})", env!("CARGO_PKG_VERSION")),
        ),
        ("Python", python.unwrap_or_else(absent)),
        ("fal-client", peers.python_client().unwrap_or_else(absent)),
        ("Node", node.unwrap_or_else(absent)),
        ("@fal-ai/client", peers.js_client().unwrap_or_else(absent)),
    ];
    Facts { machine, versions }
}
