//! `kontext status ID [--logs] [--watch]`.

use fal_kontext::LogEntry;

use crate::cli::{Global, StatusArgs};
use crate::exit::Failure;
use crate::follow;
use crate::local::connect;
use crate::output;

/// Prints the status (and log lines); with `--watch`, every change until it completes.
pub async fn run(args: StatusArgs, global: &Global) -> Result<(), Failure> {
    super::refuse_local(global)?;
    let connection = connect(false).await?;
    let handle = connection
        .client
        .request_handle::<()>(args.request.endpoint(), &args.request.id);
    // Log lines read best under the status they came with, except the
    // last ones, which come before COMPLETED.
    let print = |status: &fal_kontext::QueueStatus, changed: bool, logs: &[LogEntry]| {
        if global.json {
            return;
        }
        let completed = status.status == fal_kontext::Status::Completed;
        if changed && !completed {
            println!("{}", follow::describe(status));
        }
        for entry in logs {
            println!("  {}", entry.message);
        }
        if changed && completed {
            println!("{}", follow::describe(status));
        }
    };
    let status = if args.watch {
        follow::until_completed(&handle, args.logs, None, print)
            .await?
            .expect("no deadline was set")
    } else {
        let status = handle.status(args.logs).await?;
        print(&status, true, status.logs.as_deref().unwrap_or_default());
        status
    };
    if global.json {
        output::print_json(&serde_json::to_value(&status).expect("a status serializes"));
    }
    Ok(())
}
