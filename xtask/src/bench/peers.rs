//! fal's official clients, installed at pinned versions into the ignored
//! `.peers/` folder: fal-client in a venv at `.peers/py`, @fal-ai/client
//! with npm at `.peers/js`. Nothing is fetched when the pinned version is
//! already there, so the bench itself never needs the network.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, ensure};

/// fal-client on PyPI.
pub const PYTHON_CLIENT: &str = "1.0.3";
/// @fal-ai/client on npm.
pub const JS_CLIENT: &str = "1.10.1";

pub struct Peers {
    dir: PathBuf,
}

/// Runs a command and returns its trimmed stdout, or `None` if it failed.
fn output(command: &mut Command) -> Option<String> {
    let output = command.output().ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn run(command: &mut Command) -> Result<()> {
    let status = command
        .status()
        .with_context(|| format!("running {command:?}"))?;
    ensure!(status.success(), "{command:?} failed with {status}");
    Ok(())
}

impl Peers {
    pub fn new(root: &Path) -> Self {
        Self {
            dir: root.join(".peers"),
        }
    }

    /// The venv's interpreter.
    pub fn python(&self) -> PathBuf {
        self.dir.join("py/bin/python")
    }

    /// The npm prefix holding `node_modules/@fal-ai/client`.
    pub fn js_dir(&self) -> PathBuf {
        self.dir.join("js")
    }

    /// The installed fal-client's version, if it imports.
    pub fn python_client(&self) -> Option<String> {
        output(Command::new(self.python()).args([
            "-c",
            "import fal_client, importlib.metadata as m; print(m.version('fal-client'))",
        ]))
    }

    /// The installed @fal-ai/client's version, if node runs.
    pub fn js_client(&self) -> Option<String> {
        output(Command::new("node").arg("--version"))?;
        let manifest = self
            .js_dir()
            .join("node_modules/@fal-ai/client/package.json");
        let manifest: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(manifest).ok()?).ok()?;
        manifest["version"].as_str().map(str::to_owned)
    }

    /// The Python interpreter's and Node's own versions.
    pub fn runtimes(&self) -> (Option<String>, Option<String>) {
        (
            output(Command::new(self.python()).arg("--version")),
            output(Command::new("node").arg("--version")),
        )
    }

    /// Installs whichever pinned client is missing or at another version.
    pub fn install(&self) -> Result<()> {
        if self.python_client().as_deref() == Some(PYTHON_CLIENT) {
            eprintln!(
                "fal-client {PYTHON_CLIENT} is already in {}",
                self.dir.display()
            );
        } else {
            if !self.python().exists() {
                run(Command::new("python3")
                    .args(["-m", "venv"])
                    .arg(self.dir.join("py")))?;
            }
            run(Command::new(self.python()).args([
                "-m",
                "pip",
                "install",
                "--quiet",
                "--disable-pip-version-check",
                &format!("fal-client=={PYTHON_CLIENT}"),
            ]))?;
        }
        if self.js_client().as_deref() == Some(JS_CLIENT) {
            eprintln!(
                "@fal-ai/client {JS_CLIENT} is already in {}",
                self.dir.display()
            );
        } else {
            let js = self.js_dir();
            std::fs::create_dir_all(&js)?;
            if !js.join("package.json").exists() {
                std::fs::write(js.join("package.json"), "{\"private\": true}\n")?;
            }
            run(Command::new("npm")
                .args([
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--save-exact",
                    "--prefix",
                ])
                .arg(&js)
                .arg(format!("@fal-ai/client@{JS_CLIENT}")))?;
        }
        ensure!(
            self.python_client().as_deref() == Some(PYTHON_CLIENT)
                && self.js_client().as_deref() == Some(JS_CLIENT),
            "the peers did not install as pinned"
        );
        eprintln!("peers ready: fal-client {PYTHON_CLIENT}, @fal-ai/client {JS_CLIENT}");
        Ok(())
    }
}
