//! The client every command uses: from the environment (`FAL_KEY`,
//! `FAL_QUEUE_URL`, …), or with `--local`, pointed at an emulator started in
//! this process. The emulator is the default cargo feature `emulator`; a
//! build without it refuses `--local` and `kontext emulator` with
//! `missing_emulator`.

use fal_kontext::Client;

use crate::exit::Failure;

/// A client, and the emulator it talks to when `--local` started one. The
/// emulator stops when this is dropped, so keep it for the whole command.
pub struct Connection {
    /// The client.
    pub client: Client,
    /// Held only to keep the in-process emulator serving.
    #[cfg(feature = "emulator")]
    _emulator: Option<fal_emulator::Emulator>,
}

/// Connects as the flags say: with `local`, to a fresh emulator in this
/// process (its own key; `FAL_*` variables are ignored); else from the
/// environment.
pub async fn connect(local: bool) -> Result<Connection, Failure> {
    if local {
        return connect_local().await;
    }
    Ok(Connection {
        client: Client::from_env()?,
        #[cfg(feature = "emulator")]
        _emulator: None,
    })
}

#[cfg(feature = "emulator")]
async fn connect_local() -> Result<Connection, Failure> {
    let emulator = fal_emulator::Emulator::start()
        .await
        .map_err(Failure::Emulator)?;
    let urls = emulator.urls();
    let client = Client::builder()
        .key(&urls.key)
        .admin_key(emulator.admin_key())
        .queue_url(&urls.queue)
        .run_url(&urls.run)
        .rest_url(&urls.rest)
        .platform_url(emulator.platform_url())
        .build()?;
    Ok(Connection {
        client,
        _emulator: Some(emulator),
    })
}

#[cfg(not(feature = "emulator"))]
async fn connect_local() -> Result<Connection, Failure> {
    Err(missing_emulator())
}

/// What `--local` and `kontext emulator` answer in a build without the
/// `emulator` feature: a usage error, before anything is sent.
#[cfg(not(feature = "emulator"))]
pub fn missing_emulator() -> Failure {
    Failure::Usage(
        "this build of kontext has no local emulator (it was built without the cargo feature \
         `emulator`): for --local and `kontext emulator`, install it with default features \
         (`cargo install fal-kontext-cli`); to use fal, set FAL_KEY and drop --local"
            .into(),
    )
}
