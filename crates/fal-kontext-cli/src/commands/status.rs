//! `kontext status ID [--logs] [--watch]`.

use clap::Args;
use fal_kontext::{AnyStatus, QueueStatus, Status, Update};

use crate::exit::Failure;
use crate::flags::{Global, RequestRef};
use crate::local::connect;
use crate::output;
use crate::progress;
use crate::server_text::printable;

/// `kontext status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    #[command(flatten)]
    #[allow(missing_docs)]
    pub request: RequestRef,
    /// Show the model's log lines too.
    #[arg(long)]
    pub logs: bool,
    /// Follow the request until it completes (Ctrl-C stops watching; the request goes on).
    #[arg(long)]
    pub watch: bool,
}

/// Prints the status (and log lines); with `--watch`, every change until it
/// completes, following the request without ever cancelling it.
pub async fn run(args: StatusArgs, global: &Global) -> Result<(), Failure> {
    super::refuse_local(global)?;
    let connection = connect(false).await?;
    let handle = connection
        .client
        .request_handle::<()>(args.request.endpoint(), &args.request.id);
    let print_logs = |logs: &[fal_kontext::LogEntry]| {
        if args.logs && !global.json {
            logs.iter()
                .for_each(|entry| println!("  {}", printable(&entry.message)));
        }
    };
    if args.watch {
        let mut watch = handle.clone().watch(super::NO_DEADLINE);
        let mut running = false;
        while let Some(update) = watch.next().await {
            match update? {
                Update::Queued { position } if !global.json => {
                    println!("{}", progress::queued(position))
                }
                Update::Queued { .. } => {}
                Update::InProgress { logs } => {
                    if !running && !global.json {
                        println!("{}", Status::InProgress);
                    }
                    running = true;
                    print_logs(&logs);
                }
                Update::Completed { logs } => print_logs(&logs),
            }
        }
    }
    // The status now (after a watch, the final one), with all its log lines
    // unless the watch printed them already.
    let status = handle.status(args.logs).await?;
    if global.json {
        output::print_json(&serde_json::to_value(&status).expect("a status serializes"));
    } else {
        if !args.watch {
            print_logs(status.logs.as_deref().unwrap_or_default());
        }
        println!("{}", describe(&status));
    }
    Ok(())
}

/// How a status reads on one line: `IN_QUEUE (2 ahead)`, `COMPLETED, failed: …`.
fn describe(status: &QueueStatus) -> String {
    let known = match &status.status {
        AnyStatus::Known(known) => *known,
        // A status fal added after this tool was made, as fal spells it.
        AnyStatus::Other(other) => return printable(other),
    };
    let mut line = known.to_string();
    match (known, status.queue_position, &status.error) {
        (Status::InQueue, Some(0), _) => line.push_str(" (next)"),
        (Status::InQueue, Some(ahead), _) => line.push_str(&format!(" ({ahead} ahead)")),
        (Status::Completed, _, Some(error)) => {
            line.push_str(&format!(", failed: {}", printable(error)))
        }
        _ => {}
    }
    line
}
