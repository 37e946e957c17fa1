//! The clients under benchmark, and how each one's driver is started and
//! pointed at the emulator through that client's own configuration.

use std::path::{Path, PathBuf};
use std::process::Command;

use fal_emulator::Emulator;

use super::peers::Peers;

/// A client under benchmark, in the order of the table's columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, clap::ValueEnum)]
pub enum Client {
    /// Bare HTTP calls: the limit the others are compared with; always run.
    #[value(skip)]
    Floor,
    /// fal-kontext, this workspace's SDK.
    Rust,
    /// fal-client, from PyPI.
    Python,
    /// @fal-ai/client, from npm.
    Js,
}

impl Client {
    pub fn label(self) -> &'static str {
        match self {
            Client::Floor => "floor (bare HTTP)",
            Client::Rust => "fal-kontext (Rust)",
            Client::Python => "fal-client (Python)",
            Client::Js => "@fal-ai/client (JS)",
        }
    }
}

/// Where the drivers are.
pub struct Drivers {
    /// The release build of `xtask/src/bin/bench_driver`.
    pub bench_driver: PathBuf,
    /// `bench/drivers`.
    pub scripts: PathBuf,
    pub peers: Peers,
}

/// The command that runs `client`'s driver on `scenario` (JSON) against
/// `emulator`, whose CA certificate is in the file `ca`.
pub fn command(
    client: Client,
    drivers: &Drivers,
    emulator: &Emulator,
    ca: &Path,
    scenario: &str,
) -> Command {
    let urls = emulator.urls();
    let mut command = match client {
        Client::Floor | Client::Rust => {
            let mut command = Command::new(&drivers.bench_driver);
            command.arg(if client == Client::Floor {
                "floor"
            } else {
                "rust"
            });
            command
        }
        Client::Python => {
            let mut command = Command::new(drivers.peers.python());
            command.arg(drivers.scripts.join("py_driver.py"));
            command
        }
        Client::Js => {
            let mut command = Command::new("node");
            command.arg(drivers.scripts.join("js_driver.mjs"));
            command
        }
    };
    command.arg(scenario);
    // Loopback only, to this emulator: no proxy or CA bundle from the environment.
    for name in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "SSL_CERT_DIR"] {
        command.env_remove(name).env_remove(name.to_lowercase());
    }
    command
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env("FAL_KEY", &urls.key);
    match client {
        Client::Floor | Client::Rust => {
            command
                .env("FAL_QUEUE_URL", &urls.queue)
                .env("FAL_RUN_URL", &urls.run)
                .env("FAL_REST_URL", &urls.rest)
                .env("SSL_CERT_FILE", ca);
        }
        Client::Python => {
            // fal-client builds https://{host}/ URLs from these; rest.fal.ai
            // is fixed, so it goes through the emulator's forward proxy.
            let host = |url: &str| url.trim_start_matches("https://").to_owned();
            command
                .env("FAL_QUEUE_RUN_HOST", host(&urls.queue))
                .env("FAL_RUN_HOST", host(&urls.run))
                .env("HTTPS_PROXY", emulator.proxy_url())
                .env("SSL_CERT_FILE", ca);
        }
        Client::Js => {
            command
                .env("FAL_QUEUE_URL", &urls.queue)
                .env("FAL_RUN_URL", &urls.run)
                .env("FAL_REST_URL", &urls.rest)
                .env("NODE_EXTRA_CA_CERTS", ca)
                .env("FAL_BENCH_JS_PEER", drivers.peers.js_dir());
        }
    }
    command
}
