//! A driver process: spawned with the scenario, spoken to over its stdin and
//! stdout (see `bench/drivers/README.md`), measured through /proc while it
//! runs, and reaped, all within a time limit.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use serde::de::DeserializeOwned;

/// How many of a driver's last stderr lines an error quotes.
const STDERR_KEPT: usize = 12;

pub struct Driver {
    name: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    deadline: Instant,
}

/// Resident memory now and at its peak, from `/proc/<pid>/status`.
#[derive(Clone, Copy, Debug)]
pub struct Memory {
    pub rss_bytes: u64,
    pub peak_bytes: u64,
}

impl Driver {
    /// Starts `command` (stdin, stdout and stderr piped); it must be done within `limit`.
    pub fn spawn(name: &str, mut command: Command, limit: Duration) -> Result<Self> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting the {name} driver ({command:?})"))?;
        let (sender, lines) = channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if sender.send(line).is_err() {
                    return;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(VecDeque::new()));
        let kept = stderr.clone();
        let pipe = child.stderr.take().expect("stderr is piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut kept = kept.lock().expect("stderr lock");
                if kept.len() == STDERR_KEPT {
                    kept.pop_front();
                }
                kept.push_back(line);
            }
        });
        Ok(Self {
            name: name.to_owned(),
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            deadline: Instant::now() + limit,
        })
    }

    /// Tells the driver to start the next measured step.
    pub fn go(&mut self) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin already closed")?;
        stdin
            .write_all(b"go\n")
            .and_then(|()| stdin.flush())
            .map_err(|error| self.failure(&format!("could not be told to go: {error}")))
    }

    /// The next JSON line the driver prints, read before the deadline.
    pub fn next<T: DeserializeOwned>(&mut self) -> Result<T> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        let line = match self.lines.recv_timeout(left) {
            Ok(line) => line,
            Err(RecvTimeoutError::Timeout) => return Err(self.failure("ran out of time")),
            Err(RecvTimeoutError::Disconnected) => return Err(self.failure("exited early")),
        };
        serde_json::from_str(&line)
            .with_context(|| format!("the {} driver printed {line:?}", self.name))
    }

    /// Waits for the driver's `{"ready": true}`.
    pub fn ready(&mut self) -> Result<()> {
        let ready: serde_json::Value = self.next()?;
        if ready["ready"] != true {
            bail!("the {} driver said {ready} instead of ready", self.name);
        }
        Ok(())
    }

    pub fn memory(&self) -> Result<Memory> {
        let path = format!("/proc/{}/status", self.child.id());
        let status = std::fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        let field = |name: &str| {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| {
                    rest.trim()
                        .trim_end_matches("kB")
                        .trim()
                        .parse::<u64>()
                        .ok()
                })
                .map(|kib| kib * 1024)
                .with_context(|| format!("no {name} in {path}"))
        };
        Ok(Memory {
            rss_bytes: field("VmRSS:")?,
            peak_bytes: field("VmHWM:")?,
        })
    }

    /// Resets the peak RSS to the current RSS (Linux's `clear_refs` 5), so
    /// that a later peak measures one step only.
    pub fn reset_peak(&self) -> Result<()> {
        let path = format!("/proc/{}/clear_refs", self.child.id());
        std::fs::write(&path, "5").with_context(|| format!("writing {path}"))
    }

    /// Closes stdin, which ends the driver, and reaps it; a driver that does
    /// not exit in time is killed (by `Drop`).
    pub fn finish(mut self) -> Result<()> {
        self.stdin = None;
        let until = Instant::now() + Duration::from_secs(10);
        loop {
            match self.child.try_wait()? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(self.failure(&format!("ended with {status}"))),
                None if Instant::now() > until => {
                    return Err(self.failure("did not exit after its stdin closed"));
                }
                None => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }

    /// An error naming the driver, with the end of its stderr.
    fn failure(&self, what: &str) -> anyhow::Error {
        // Give the stderr reader a moment to catch the driver's last words.
        std::thread::sleep(Duration::from_millis(100));
        let stderr = self.stderr.lock().expect("stderr lock");
        let tail: Vec<&str> = stderr.iter().map(String::as_str).collect();
        anyhow!(
            "the {} driver {what}; its stderr ends:\n  {}",
            self.name,
            tail.join("\n  ")
        )
    }
}

impl Drop for Driver {
    /// A driver left running (after an error) is killed and reaped.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
