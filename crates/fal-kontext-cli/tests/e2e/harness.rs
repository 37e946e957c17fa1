//! An emulator in the test process, and the `kontext` binary pointed at it
//! through `FAL_KEY`, `FAL_QUEUE_URL`, `FAL_RUN_URL`, `FAL_REST_URL` and
//! `FAL_PLATFORM_URL`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use fal_emulator::{Config, Emulator, RecordedRequest, Route, Stats, Timing};

/// The sample image shipped in the repo (160×120 PNG).
pub const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample.png");

/// No run of the binary should take longer; one that does is killed, and its
/// test fails instead of hanging.
const LIMIT: Duration = Duration::from_secs(90);

/// An emulator and the runtime that serves it.
pub struct Emu {
    pub emulator: Emulator,
    _runtime: tokio::runtime::Runtime,
}

/// Jobs that finish in a blink.
pub fn quick() -> Timing {
    Timing {
        queue_delay: Duration::ZERO,
        processing_time: Duration::from_millis(20),
    }
}

/// Jobs that take `processing` to run.
pub fn slow(processing: Duration) -> Timing {
    Timing {
        queue_delay: Duration::ZERO,
        processing_time: processing,
    }
}

impl Emu {
    /// An emulator with quick jobs.
    pub fn start() -> Self {
        Self::with(Config {
            timing: quick(),
            ..Config::default()
        })
    }

    /// An emulator with this configuration.
    pub fn with(config: Config) -> Self {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let emulator = runtime.block_on(Emulator::start_with(config)).unwrap();
        Self {
            emulator,
            _runtime: runtime,
        }
    }

    /// `kontext` with `args`, pointed at this emulator with its key.
    pub fn kontext<I, S>(&self, args: I) -> Command
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = kontext(args);
        command
            .env("FAL_KEY", self.emulator.key())
            .env("FAL_QUEUE_URL", self.emulator.queue_url())
            .env("FAL_RUN_URL", self.emulator.run_url())
            .env("FAL_REST_URL", self.emulator.rest_url())
            .env("FAL_PLATFORM_URL", self.emulator.platform_url());
        command
    }

    /// The stats now.
    pub fn stats(&self) -> Stats {
        self.emulator.stats()
    }

    /// The requests received on `route`.
    pub fn on(&self, route: Route) -> Vec<RecordedRequest> {
        self.emulator
            .requests()
            .into_iter()
            .filter(|r| r.route == route)
            .collect()
    }

    /// The body of the only submit received.
    pub fn only_submit(&self) -> RecordedRequest {
        let submits = self.on(Route::Submit);
        assert_eq!(submits.len(), 1, "{submits:#?}");
        submits.into_iter().next().unwrap()
    }

    /// The request id of the only submit, as the emulator's status URL names it.
    pub fn only_submit_id(&self) -> String {
        let statuses = self.on(Route::Stream);
        let path = &statuses.first().expect("a status stream was opened").path;
        path.split('/').rev().nth(2).unwrap().to_string()
    }

    /// Waits (bounded) until `check` holds for the stats.
    pub fn wait_for(&self, what: &str, check: impl Fn(&Stats) -> bool) {
        for _ in 0..1500 {
            if check(&self.stats()) {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("timed out waiting for {what}: {:?}", self.stats());
    }
}

/// `kontext` with `args` and an environment holding nothing of fal's.
pub fn kontext<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut command = Command::new(env!("CARGO_BIN_EXE_kontext"));
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .stdin(Stdio::null());
    command
}

/// Starts `command` with its output captured.
pub fn spawn(mut command: Command) -> Child {
    command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the kontext binary runs")
}

/// Waits for `child`, killing it if it outlives [`LIMIT`].
pub fn finish(child: Child) -> Output {
    let pid = child.id();
    let done = Arc::new(AtomicBool::new(false));
    let watchdog = {
        let done = done.clone();
        std::thread::spawn(move || {
            let mut waited = Duration::ZERO;
            while waited < LIMIT {
                if done.load(Ordering::SeqCst) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
                waited += Duration::from_millis(50);
            }
            if !done.load(Ordering::SeqCst) {
                signal(pid, "KILL");
            }
        })
    };
    let output = child.wait_with_output().unwrap();
    done.store(true, Ordering::SeqCst);
    watchdog.join().unwrap();
    output
}

/// Runs `command` to its end.
pub fn run(command: Command) -> Output {
    finish(spawn(command))
}

/// Sends a signal (`INT`, `KILL`) to a process this test started.
pub fn signal(pid: u32, name: &str) {
    let status = Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success(), "kill -{name} {pid} failed");
}

/// The exit code; a death by signal fails the test.
pub fn code(output: &Output) -> i32 {
    output
        .status
        .code()
        .unwrap_or_else(|| panic!("killed by a signal: {}", describe(output)))
}

/// stdout and stderr, for assertion messages.
pub fn describe(output: &Output) -> String {
    format!(
        "status {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Asserts success and gives stdout.
pub fn success(output: &Output) -> String {
    assert!(output.status.success(), "{}", describe(output));
    String::from_utf8(output.stdout.clone()).unwrap()
}

/// stderr as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The files in `dir`, sorted by name.
pub fn files(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// The paths printed on stdout, one per line.
pub fn printed_paths(stdout: &str) -> Vec<PathBuf> {
    stdout.lines().map(PathBuf::from).collect()
}

/// Whether the file is a whole JPEG (start and end markers).
pub fn is_whole_jpeg(path: &Path) -> bool {
    let bytes = std::fs::read(path).unwrap();
    bytes.starts_with(&[0xFF, 0xD8]) && bytes.ends_with(&[0xFF, 0xD9])
}

/// Whether the file is a PNG.
pub fn is_png(path: &Path) -> bool {
    std::fs::read(path)
        .unwrap()
        .starts_with(b"\x89PNG\r\n\x1a\n")
}

/// `kontext batch JOBS --out OUT` with `extra` flags, pointed at `emu`.
pub fn batch(emu: &Emu, jobs: &Path, out: &Path, extra: &[&str]) -> Command {
    let mut args = vec![
        "batch",
        jobs.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    emu.kontext(args)
}
