//! The client every command uses: from the environment (`FAL_KEY`,
//! `FAL_QUEUE_URL`, …), or with `--local`, pointed at an emulator started in
//! this process.

use fal_emulator::Emulator;
use fal_kontext::Client;

use crate::exit::Failure;

/// A client, and the emulator it talks to when `--local` started one. The
/// emulator stops when this is dropped, so keep it for the whole command.
pub struct Connection {
    /// The client.
    pub client: Client,
    /// Held only to keep the in-process emulator serving.
    _emulator: Option<Emulator>,
}

/// Connects as the flags say: with `local`, to a fresh emulator in this
/// process (its own key; `FAL_*` variables are ignored); else from the
/// environment.
pub async fn connect(local: bool) -> Result<Connection, Failure> {
    if !local {
        return Ok(Connection {
            client: Client::from_env()?,
            _emulator: None,
        });
    }
    let emulator = Emulator::start().await.map_err(Failure::Emulator)?;
    let urls = emulator.urls();
    let client = Client::builder()
        .key(&urls.key)
        .queue_url(&urls.queue)
        .run_url(&urls.run)
        .rest_url(&urls.rest)
        .build()?;
    Ok(Connection {
        client,
        _emulator: Some(emulator),
    })
}
