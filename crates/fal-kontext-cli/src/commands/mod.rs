//! One module per command: its flags (a clap `Args`) and the code that
//! turns them into SDK calls. `one` is shared by edit, generate, multi and
//! inpaint; `batch/` holds the batch's jobs file, state file and gallery
//! (`kontext gallery` too); `webhook/` is `kontext webhook serve` and its
//! server. What several commands share is here.

use crate::exit::Failure;
use crate::flags::Global;

pub mod batch;
pub mod cancel;
pub mod completions;
pub mod delete;
pub mod edit;
pub mod emulator;
pub mod generate;
pub mod history;
pub mod inpaint;
pub mod multi;
mod one;
pub mod price;
pub mod result;
pub mod status;
pub mod submit;
pub mod train;
pub mod webhook;

/// How long `status --watch` and `result` follow a request when no
/// `--timeout` bounds them: in effect, until it completes.
const NO_DEADLINE: std::time::Duration = std::time::Duration::from_secs(30 * 24 * 3600);

/// `--local` starts an emulator that lives only as long as this command, so
/// it cannot know a request made by another one.
fn refuse_local(global: &Global) -> Result<(), Failure> {
    if global.local {
        return Err(Failure::Usage(
            "--local starts a new emulator for each command, which knows no earlier request; \
             run `kontext emulator` and point FAL_KEY and FAL_QUEUE_URL at it instead"
                .into(),
        ));
    }
    Ok(())
}
