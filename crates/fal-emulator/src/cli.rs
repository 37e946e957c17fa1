//! The binary's behaviour, in the library so that `kontext emulator` shares
//! it: start, print one JSON line when ready, serve until Ctrl-C.

use std::io::{self, Write};
use std::path::PathBuf;

use crate::emulator::Emulator;
use crate::state::config::Config;
use crate::state::urls::Urls;

/// The line printed on stdout when the emulator is ready: the [`Urls`]
/// fields, plus the Platform APIs base, the forward proxy and, with TLS, the
/// file holding the CA certificate to trust.
///
/// ```
/// let line = r#"{"queue":"http://127.0.0.1:1","run":"http://127.0.0.1:2","rest":"http://127.0.0.1:3","cdn":"http://127.0.0.1:4","key":"k","platform":"http://127.0.0.1:3/v1","proxy":"http://127.0.0.1:5"}"#;
/// let ready: fal_emulator::ReadyLine = serde_json::from_str(line).unwrap();
/// assert_eq!(ready.urls.key, "k");
/// assert_eq!(ready.platform, "http://127.0.0.1:3/v1");
/// assert!(ready.ca_cert.is_none());
/// ```
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct ReadyLine {
    /// `queue`, `run`, `rest`, `cdn` and `key`, at the top level of the line.
    #[serde(flatten)]
    pub urls: Urls,
    /// What `FAL_PLATFORM_URL` takes: see [`Emulator::platform_url`].
    pub platform: String,
    /// What `FAL_ADMIN_KEY` takes: see [`Emulator::admin_key`].
    #[serde(default)]
    pub admin_key: String,
    /// See [`Emulator::proxy_url`].
    pub proxy: String,
    /// With TLS: a PEM file with the CA to trust (`SSL_CERT_FILE`,
    /// `NODE_EXTRA_CA_CERTS`, …).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_cert: Option<PathBuf>,
}

/// Starts an emulator, prints its [`ReadyLine`] as one JSON line on stdout,
/// and serves until Ctrl-C (or until the process is killed).
///
/// ```no_run
/// #[tokio::main]
/// async fn main() -> std::io::Result<()> {
///     fal_emulator::serve_until_ctrl_c(fal_emulator::Config::default()).await
/// }
/// ```
pub async fn serve_until_ctrl_c(config: Config) -> io::Result<()> {
    let emulator = Emulator::start_with(config).await?;
    let ca_cert = match emulator.ca_cert_pem() {
        Some(pem) => {
            let port = emulator
                .queue_url()
                .rsplit(':')
                .next()
                .unwrap_or_default()
                .to_owned();
            let path = std::env::temp_dir().join(format!("fal-emulator-{port}-ca.pem"));
            std::fs::write(&path, pem)?;
            Some(path)
        }
        None => None,
    };
    let line = ReadyLine {
        urls: emulator.urls().clone(),
        platform: emulator.platform_url(),
        admin_key: emulator.admin_key().to_owned(),
        proxy: emulator.proxy_url().to_owned(),
        ca_cert,
    };
    let mut stdout = io::stdout().lock();
    serde_json::to_writer(&mut stdout, &line)?;
    writeln!(stdout)?;
    stdout.flush()?;
    drop(stdout);
    tokio::signal::ctrl_c().await?;
    if let Some(path) = line.ca_cert {
        let _ = std::fs::remove_file(path);
    }
    Ok(())
}
