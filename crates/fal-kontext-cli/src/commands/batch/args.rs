//! The flags of `kontext batch`, and its long help: the jobs file, the state
//! file and what a rerun does.

use std::path::PathBuf;

use clap::Args;

use super::pacing::Concurrency;
use crate::flags::parse::{Number, amount, number_in, number_where, seconds};
use crate::job::Model;

/// `kontext batch`.
#[derive(Debug, Args)]
#[command(after_long_help = BATCH_HELP)]
pub struct BatchArgs {
    /// The jobs: one JSON object per line (see below).
    #[arg(value_name = "JOBS.jsonl")]
    pub jobs: PathBuf,
    /// The directory for the images and the state file.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// How many jobs are at fal at once: auto (as many as fal runs for the account, plus 2), or
    /// a fixed number (see below).
    #[arg(long, value_name = "auto|N", default_value = "auto", value_parser = concurrency())]
    pub concurrency: Concurrency,
    /// The model of every job.
    #[arg(long, value_enum, default_value_t)]
    pub model: Model,
    /// Give up on a job (and cancel it) after this many seconds (default 900).
    #[arg(long, value_name = "SECS", value_parser = seconds())]
    pub timeout: Option<u64>,
    /// Print fal's estimate of what the jobs still to submit would cost, and
    /// exit without submitting anything.
    #[arg(long)]
    pub estimate: bool,
    /// The most this run may spend, in the currency of fal's prices (USD):
    /// refuse to start (nothing submitted) when fal's estimate is more; stop
    /// submitting once what was submitted would cost more.
    #[arg(long, value_name = "AMOUNT", value_parser = amount(), allow_negative_numbers = true)]
    pub max_cost: Option<f64>,
    /// Submit again the jobs whose submit, in an earlier run, may have
    /// reached fal (its answer was lost): they may then be paid twice.
    #[arg(long)]
    pub resubmit_unknown: bool,
    /// How long fal's request history may take to list a request it took
    /// (fal does not say): a job whose submit may have reached fal and that
    /// the history does not list is submitted again only once its submit is
    /// this many seconds old (default 600).
    #[arg(long, value_name = "SECS", value_parser = number_in::<u64>(0.., "must be a whole number of seconds, 0 or more"), allow_negative_numbers = true)]
    pub history_delay: Option<u64>,
    /// Ask fal not to keep the jobs' input and output in its request history
    /// (`X-Fal-Store-IO: 0`). A job whose submit answer is lost can then not
    /// be told apart there: a rerun leaves it (see below).
    #[arg(long)]
    pub no_store_io: bool,
    /// Once a job's images are saved, delete what fal stored of its request
    /// (input, output, output files; needs an ADMIN key: FAL_ADMIN_KEY, else
    /// FAL_KEY). Recorded in the state file: a rerun does not repeat it.
    #[arg(long)]
    pub delete_payloads: bool,
}

const BATCH_HELP: &str = "\
Each line is one job, with the input's own field names and an \"id\" that names its outputs:
  {\"id\": \"a1\", \"prompt\": \"Make it night\", \"image_url\": \"photos/a1.png\", \"seed\": 7}
\"image_url\" edits one image, \"image_urls\" (a list) is a multi edit, neither makes an image
from text. A local path is taken relative to the jobs file. Images are saved as <id>-<n>.<ext>.

Every request id is written to batch-state.jsonl in --out the moment fal accepts it. Rerun the
same command to resume after a crash, a kill, Ctrl-C, SIGTERM, SIGHUP or failed jobs:
  - done jobs are skipped;
  - a job fal accepted is collected by its request id and never submitted again, also when it
    failed on this side: its download, the deadline (--timeout), the network, the result fetch;
  - a job fal failed (its input refused, an error status, its request_timeout passed) or that
    was never sent is submitted again;
  - a job whose submit may have reached fal (the answer was lost: a gateway's 502 or 504, a
    connection cut after sending) is recorded as unknown, with what it sent. A rerun looks for
    it in fal's request history: found, it is collected by that request's id; not listed (and
    older than --history-delay), it is submitted again; when the history cannot tell (the job
    was sent with --no-store-io, or several requests match) it is left, since submitting it
    again could pay twice, unless --resubmit-unknown.
Ctrl-C, SIGTERM and SIGHUP start no new submit, let the submits in flight finish and record
their ids, and exit without cancelling anything (130, 143, 129). A torn last line of the state
file (a kill or a full disk mid-write) is cut off on the next run; the records before it are
kept. Exits 0 when every job is done, else with the highest exit code among the failures.

--concurrency auto (the default) keeps at fal the jobs fal runs for the account plus 2, learned
from what fal reports while it waits (running or queued): 2 at the start, as many as 42 (fal
runs up to 40 at once per account). A job's --timeout runs from its submit, so with auto it is
spent running, not waiting. With a fixed N, N jobs are submitted at once: those beyond the
account's running slots wait in fal's queue (fal never refuses a queued job) and their
deadlines run while they wait, so a large N on a small account ends in jobs cancelled at their
deadline. A submit fal refuses with 429 (its gateway, or a limit on its queue's length) is
sent again: the batch halves how many jobs it keeps at fal and pauses for the Retry-After (else
1 s), then grows again; the job never fails for it.

--estimate and --max-cost ask fal's Platform API (FAL_PLATFORM_URL) for the prices and for the
estimate of exactly what this run would submit: each job's endpoint and images (num_images,
else 1; an image billed by megapixels counts as one), only the jobs not done or submitted
before. With --max-cost, a job is submitted only while what this run sent to fal, at fal's
prices (at what fal billed, once it says), stays within the amount; a job refused before it
was sent (an unreadable image, a failed upload) or by fal's edge (429, an ingress error page)
counts for nothing. The jobs in flight finish, the rest is left for a rerun (exit 5). The state
file records each job's billable units as fal reported them, and their cost when the prices
are known (with --max-cost).";

/// `--concurrency`: `auto`, or a number from 1 to 256.
fn concurrency() -> Number<Concurrency> {
    number_where(
        |c: &Concurrency| match c {
            Concurrency::Auto => true,
            Concurrency::Fixed(n) => (1..=256).contains(n),
        },
        "must be from 1 to 256, or auto",
    )
}
