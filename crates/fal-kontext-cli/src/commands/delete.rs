//! `kontext delete REQUEST_ID…`: deletes what fal stored of each request
//! (its input and output JSON, and its output files on fal's CDN), with a
//! key of fal's ADMIN scope (`FAL_ADMIN_KEY`, else `FAL_KEY`).

use std::io::{BufRead, IsTerminal, Write};

use clap::Args;
use fal_kontext::Deletion;
use serde_json::json;

use crate::exit::{self, Failure, code_of};
use crate::flags::Global;
use crate::local::connect;
use crate::server_text::printable;

/// `kontext delete`.
#[derive(Debug, Args)]
#[command(after_help = "\
Deletes each request's stored input and output and its output files on fal's CDN (the input \
files are kept: other requests may use them). It cannot be undone. It needs a key with fal's \
ADMIN scope: FAL_ADMIN_KEY, else FAL_KEY. Exits 0 only when every file of every request was \
deleted.")]
pub struct DeleteArgs {
    /// The requests, by the ids `kontext submit` or `kontext history` printed.
    #[arg(value_name = "REQUEST_ID", required = true, value_parser = crate::flags::parse::request_id)]
    pub request_ids: Vec<String>,
    /// Do not ask for confirmation on a terminal.
    #[arg(long, short)]
    pub yes: bool,
}

/// Deletes each request's payloads, printing each file's outcome.
pub async fn run(args: DeleteArgs, global: &Global) -> Result<(), Failure> {
    // a fresh emulator holds no earlier request
    super::refuse_local(global)?;
    if !args.yes && std::io::stdin().is_terminal() && !confirmed(args.request_ids.len()) {
        return Err(Failure::Usage("nothing deleted: not confirmed".into()));
    }
    let connection = connect(global.local).await?;
    let mut failed = 0;
    let mut code = 0;
    for id in &args.request_ids {
        match connection.client.delete_payloads(id).await {
            Ok(deletion) => {
                report(&deletion, global.json);
                if !deletion.is_complete() {
                    failed += 1;
                    code = code.max(exit::FAILED);
                }
            }
            Err(error) => {
                if global.json {
                    println!("{}", json!({"request_id": id, "error": error.to_string()}));
                } else {
                    eprintln!("error: {}: {}", id, printable(&error.to_string()));
                }
                failed += 1;
                code = code.max(code_of(&error));
            }
        }
    }
    match failed {
        0 => Ok(()),
        _ => Err(Failure::Batch { failed, code }),
    }
}

/// Asks on the terminal; only `y` or `yes` confirm.
fn confirmed(count: usize) -> bool {
    eprint!(
        "Delete the stored input, output and output files of {count} request(s) at fal? \
         This cannot be undone. [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    if std::io::stdin().lock().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

/// One line per file (one JSON object per request with `--json`).
fn report(deletion: &Deletion, json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string(deletion).expect("a deletion serializes")
        );
        return;
    }
    let id = printable(&deletion.request_id);
    if deletion.files.is_empty() {
        println!("{id}: payloads deleted (no output files left)");
    }
    for file in &deletion.files {
        match &file.error {
            None => println!("{id}: deleted {}", printable(&file.url)),
            Some(why) => println!(
                "{id}: NOT deleted {}: {}",
                printable(&file.url),
                printable(why)
            ),
        }
    }
}
