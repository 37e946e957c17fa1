//! `kontext cancel ID`.

use clap::Args;
use fal_kontext::CancelOutcome;
use serde_json::json;

use crate::exit::Failure;
use crate::flags::{Global, RequestRef};
use crate::local::connect;
use crate::output;

/// `kontext cancel`.
#[derive(Debug, Args)]
pub struct CancelArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: RequestRef,
}

/// Asks fal to cancel the request; one that has completed already is no error.
pub async fn run(args: CancelArgs, global: &Global) -> Result<(), Failure> {
    super::refuse_local(global)?;
    let connection = connect(false).await?;
    let endpoint = args.request.endpoint();
    let id = &args.request.id;
    let handle = connection.client.request_handle::<()>(endpoint, id);
    let outcome = handle.cancel().await?;
    let (word, line) = match outcome {
        CancelOutcome::Requested => ("requested", format!("cancel requested for {id}")),
        CancelOutcome::AlreadyCompleted => (
            "already_completed",
            format!("{id} had already completed; nothing to cancel"),
        ),
    };
    if global.json {
        output::print_json(&json!({"request_id": id, "endpoint": endpoint, "cancel": word}));
    } else {
        println!("{line}");
    }
    Ok(())
}
