//! One module per command; each turns its flags into SDK calls.

use crate::cli::{Cli, Command, Global, WebhookCommand};
use crate::exit::Failure;

mod batch;
mod cancel;
mod completions;
mod delete;
mod edit;
mod emulator;
mod gallery;
mod generate;
mod history;
mod inpaint;
mod multi;
mod one;
mod price;
mod result;
mod status;
mod submit;
mod train;
mod webhook;

pub use delete::DeleteArgs;
pub use history::HistoryArgs;

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

/// Runs the command the line asks for.
pub async fn run(cli: Cli) -> Result<(), Failure> {
    let Cli { global, command } = cli;
    match command {
        Command::Edit(args) => edit::run(args, &global).await,
        Command::Generate(args) => generate::run(args, &global).await,
        Command::Multi(args) => multi::run(args, &global).await,
        Command::Inpaint(args) => inpaint::run(args, &global).await,
        Command::Train(args) => train::run(args, &global).await,
        Command::Submit(args) => submit::run(args, &global).await,
        Command::Status(args) => status::run(args, &global).await,
        Command::Result(args) => result::run(args, &global).await,
        Command::Cancel(args) => cancel::run(args, &global).await,
        Command::Batch(args) => batch::run(args, &global).await,
        Command::Gallery(args) => gallery::run(args, &global),
        Command::Price(args) => price::run(args, &global).await,
        Command::History(args) => history::run(args, &global).await,
        Command::Delete(args) => delete::run(args, &global).await,
        Command::Emulator(args) => emulator::run(args).await,
        Command::Webhook(WebhookCommand::Serve(args)) => webhook::serve(args, &global).await,
        Command::Completions { shell } => {
            completions::print(shell);
            Ok(())
        }
    }
}
