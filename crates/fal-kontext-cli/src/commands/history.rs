//! `kontext history`: this account's requests at fal, from its request
//! history (fal's Platform API, `FAL_PLATFORM_URL`), newest first: a table,
//! or one JSON object per line with `--json`.

use std::time::{Duration, SystemTime};

use clap::Args;
use fal_kontext::{HistoryItem, HistoryStatus};
use futures::TryStreamExt;
use time::format_description::well_known::Rfc3339;
use time::{Date, Month, OffsetDateTime};

use crate::exit::Failure;
use crate::flags::Global;
use crate::local::connect;
use crate::server_text::printable;

/// `kontext history`.
#[derive(Debug, Args)]
#[command(after_help = "\
--since and --until take a duration back from now (90s, 30m, 12h, 7d) or a date \
(2026-01-31, UTC midnight) or a time (2026-01-31T18:00:00Z). fal's default window is the \
last 24 hours (90 days with --request-id). fal keeps inputs and outputs for 30 days, never \
for requests sent with --no-store-io or --sync.")]
pub struct HistoryArgs {
    /// An endpoint to list; repeat for more (default: the seven of the Kontext family).
    #[arg(long = "endpoint", value_name = "ID", num_args = 1)]
    pub endpoints: Vec<String>,
    /// Only requests sent since then: a duration back from now, a date or a time.
    #[arg(long, value_name = "DURATION|DATE", value_parser = when)]
    pub since: Option<SystemTime>,
    /// Only requests sent before then (same forms as --since).
    #[arg(long, value_name = "DURATION|DATE", value_parser = when)]
    pub until: Option<SystemTime>,
    /// Only requests that ended this way.
    #[arg(long, value_name = "STATUS", value_parser = status)]
    pub status: Option<HistoryStatus>,
    /// Only the request with this id.
    #[arg(long, value_name = "ID", value_parser = crate::flags::parse::request_id)]
    pub request_id: Option<String>,
    /// With each request's input and output JSON, where fal still keeps them.
    #[arg(long)]
    pub payloads: bool,
    /// List at most N requests.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    pub limit: Option<u64>,
    /// How many requests to ask fal for per call, 1 to 100.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=100))]
    pub page_size: Option<u8>,
}

fn status(text: &str) -> Result<HistoryStatus, String> {
    text.parse().map_err(|_| {
        format!(
            "must be one of {}",
            HistoryStatus::ALL
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )
    })
}

/// A duration back from now (`90s`, `30m`, `12h`, `7d`), a date
/// (`2026-01-31`, midnight UTC) or an RFC 3339 time.
pub fn when(text: &str) -> Result<SystemTime, String> {
    const RULE: &str = "must be a duration back from now (90s, 30m, 12h, 7d), a date \
                        (2026-01-31) or a time (2026-01-31T18:00:00Z)";
    let text = text.trim();
    let is_duration = text.ends_with(|c: char| c.is_ascii_lowercase())
        && text[..text.len() - 1].bytes().all(|b| b.is_ascii_digit());
    if let Some(unit) = text.chars().last().filter(|_| is_duration) {
        let count: u64 = text[..text.len() - 1].parse().map_err(|_| RULE)?;
        let seconds = match unit {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => return Err(RULE.into()),
        };
        let back = Duration::from_secs(count.checked_mul(seconds).ok_or(RULE)?);
        return SystemTime::now()
            .checked_sub(back)
            .ok_or_else(|| RULE.into());
    }
    let at = if text.contains(['T', 't']) {
        OffsetDateTime::parse(text, &Rfc3339).map_err(|_| RULE)?
    } else {
        date_of(text).ok_or(RULE)?.midnight().assume_utc()
    };
    // fal's window is to the second
    let at = at.replace_nanosecond(0).map_err(|_| RULE)?;
    Ok(SystemTime::from(at))
}

/// `YYYY-MM-DD`, the four, two and two digits required.
fn date_of(text: &str) -> Option<Date> {
    let mut parts = text.split('-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()
}

/// Lists the requests.
pub async fn run(args: HistoryArgs, global: &Global) -> Result<(), Failure> {
    // a fresh emulator holds no earlier request
    super::refuse_local(global)?;
    let connection = connect(global.local).await?;
    let mut query = connection.client.history().payloads(args.payloads);
    query = if args.endpoints.is_empty() {
        query.endpoints(fal_kontext::endpoints::ALL.iter().copied())
    } else {
        query.endpoints(args.endpoints)
    };
    if let Some(since) = args.since {
        query = query.since(since);
    }
    if let Some(until) = args.until {
        query = query.until(until);
    }
    if let Some(status) = args.status {
        query = query.status(status);
    }
    if let Some(id) = args.request_id {
        query = query.request_id(id);
    }
    if let Some(limit) = args.limit {
        query = query.limit(usize::try_from(limit).unwrap_or(usize::MAX));
    }
    if let Some(size) = args.page_size {
        query = query.page_size(size);
    }
    let mut requests = query.stream()?;
    if !global.json {
        println!(
            "{:<36}  {:<40}  {:>6}  {:<25}  {:>9}{}",
            "REQUEST ID",
            "ENDPOINT",
            "STATUS",
            "ENDED",
            "SECONDS",
            if args.payloads { "  PAYLOADS" } else { "" }
        );
    }
    while let Some(request) = requests.try_next().await? {
        if global.json {
            // serde_json escapes every control character fal's text may hold
            println!(
                "{}",
                serde_json::to_string(&request).expect("a request serializes")
            );
        } else {
            println!("{}", row(&request, args.payloads));
        }
    }
    Ok(())
}

/// One line of the table, fal's text made printable (it cannot drive the
/// terminal).
fn row(request: &HistoryItem, payloads: bool) -> String {
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "-".into());
    let mut line = format!(
        "{:<36}  {:<40}  {:>6}  {:<25}  {:>9}",
        printable(&request.request_id),
        printable(&request.endpoint_id),
        or_dash(request.status_code.map(|code| code.to_string())),
        or_dash(request.ended_at.as_deref().map(printable)),
        or_dash(request.duration.map(|seconds| format!("{seconds:.2}"))),
    );
    if payloads {
        line.push_str(match (&request.input, &request.output) {
            (Some(_), Some(_)) => "  input, output",
            (Some(_), None) => "  input",
            (None, Some(_)) => "  output",
            (None, None) => "  none kept",
        });
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn dates_and_times_are_read_in_utc() {
        assert_eq!(when("1970-01-02"), Ok(at(86_400)));
        assert_eq!(when("2026-01-31"), Ok(at(1_769_817_600)));
        assert_eq!(
            when("2026-01-31T18:00:00Z"),
            Ok(at(1_769_817_600 + 18 * 3600))
        );
        assert_eq!(
            when("2026-01-31T20:00:00.5+02:00"),
            Ok(at(1_769_817_600 + 18 * 3600))
        );
        assert_eq!(when("2024-02-29"), Ok(at(1_709_164_800)));
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "26-01-31",
            "yesterday",
            "5w",
            "-3h",
            "2026-01-31T25:00:00Z",
        ] {
            assert!(when(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn durations_count_back_from_now() {
        let back = SystemTime::now()
            .duration_since(when("2h").unwrap())
            .unwrap();
        assert!(
            back > Duration::from_secs(7199) && back < Duration::from_secs(7260),
            "{back:?}"
        );
    }

    #[test]
    fn fal_text_in_the_table_cannot_drive_the_terminal() {
        let item = HistoryItem {
            request_id: "r\u{1b}]0;title\u{7}".into(),
            endpoint_id: "fal-ai/flux-pro/kontext\n\u{1b}[2J".into(),
            sent_at: None,
            started_at: None,
            ended_at: Some("2026\u{202e}".into()),
            status_code: Some(200),
            duration: Some(1.5),
            input: None,
            output: None,
        };
        let line = row(&item, true);
        assert!(
            !line.chars().any(|c| c.is_control() || c == '\u{202e}'),
            "{line:?}"
        );
        assert!(
            line.contains("fal-ai/flux-pro/kontext\\n\\u{1b}[2J"),
            "{line}"
        );
        assert!(line.ends_with("none kept"), "{line}");
    }
}
