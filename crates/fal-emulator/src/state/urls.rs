//! Where a running emulator serves: the base URLs of its origins, and its key.

/// The base URLs of a running emulator (no trailing slash) and its key.
///
/// `queue`, `run` and `rest` are what `FAL_QUEUE_URL`, `FAL_RUN_URL` and
/// `FAL_REST_URL` take.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Urls {
    /// The queue origin (fal's `https://queue.fal.run`).
    pub queue: String,
    /// The synchronous run origin (fal's `https://fal.run`).
    pub run: String,
    /// The REST origin, for uploads (fal's `https://rest.fal.ai`).
    pub rest: String,
    /// The CDN origin: result images and uploaded files.
    pub cdn: String,
    /// The API key the emulator accepts.
    ///
    /// ```no_run
    /// # async fn demo() -> std::io::Result<()> {
    /// let emulator = fal_emulator::Emulator::start().await?;
    /// let header = format!("Key {}", emulator.key());
    /// # Ok(()) }
    /// ```
    pub key: String,
}
