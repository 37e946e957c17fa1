//! The table's figures: one row per figure, one column per client, each
//! figure also given as a ratio to the floor's.

use super::clients::Client;
use super::results::{Measured, Results};
use super::table;

type Reading<'a> = Option<Result<f64, &'a str>>;

fn read<T>(slot: &Option<Result<T, String>>, figure: impl Fn(&T) -> f64) -> Reading<'_> {
    slot.as_ref()
        .map(|outcome| outcome.as_ref().map(&figure).map_err(String::as_str))
}

/// Like [`read`], for a figure that may not have been measured.
fn read_counted<T>(
    slot: &Option<Result<T, String>>,
    count: impl Fn(&T) -> Option<u64>,
) -> Reading<'_> {
    match slot {
        Some(Ok(measured)) => count(measured).map(|n| Ok(n as f64)),
        Some(Err(error)) => Some(Err(error.as_str())),
        None => None,
    }
}

struct Figure {
    scenario: &'static str,
    name: &'static str,
    read: fn(&Measured) -> Reading<'_>,
    unit: &'static str,
}

const FIGURES: [Figure; 10] = [
    Figure {
        scenario: "1. Completion latency",
        name: "median",
        read: |m| read(&m.latency, |l| l.median_ms),
        unit: "ms",
    },
    Figure {
        scenario: "",
        name: "p99",
        read: |m| read(&m.latency, |l| l.p99_ms),
        unit: "ms",
    },
    Figure {
        scenario: "2. Cost per job",
        name: "CPU (user+sys)",
        read: |m| read(&m.cost, |c| c.cpu_ms),
        unit: "ms",
    },
    Figure {
        scenario: "",
        name: "HTTP requests",
        read: |m| read(&m.cost, |c| c.requests),
        unit: "",
    },
    Figure {
        scenario: "",
        name: "TCP connections (all jobs)",
        read: |m| read_counted(&m.cost, |c| c.connections),
        unit: "",
    },
    Figure {
        scenario: "3. Concurrency",
        name: "wall time",
        read: |m| read(&m.concurrency, |c| c.wall_s),
        unit: "s",
    },
    Figure {
        scenario: "",
        name: "peak RSS",
        read: |m| read(&m.concurrency, |c| c.peak_rss_mib),
        unit: "MiB",
    },
    Figure {
        scenario: "",
        name: "TCP connections",
        read: |m| read_counted(&m.concurrency, |c| c.connections),
        unit: "",
    },
    Figure {
        scenario: "4. Upload",
        name: "RSS growth",
        read: |m| read(&m.upload, |u| u.rss_growth_mib),
        unit: "MiB",
    },
    Figure {
        scenario: "",
        name: "throughput",
        read: |m| read(&m.upload, |u| u.throughput_mb_s),
        unit: "MB/s",
    },
];

/// Three significant digits, at most three decimals.
pub fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 100.0 || value.fract() == 0.0 {
        format!("{value:.0}")
    } else if magnitude >= 10.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn cell(figure: &Figure, measured: &Measured, floor: Reading<'_>, client: Client) -> String {
    let value = match (figure.read)(measured) {
        None => return "—".into(),
        Some(Err(_)) => return "failed".into(),
        Some(Ok(value)) => value,
    };
    let text = format!("{} {}", number(value), figure.unit)
        .trim_end()
        .to_owned();
    match floor {
        Some(Ok(floor)) if client != Client::Floor && floor > 0.0 => {
            format!("{text} (×{})", number(value / floor))
        }
        _ => text,
    }
}

/// The table: a row per figure, a column per client that ran.
pub fn render(results: &Results) -> String {
    let mut header = vec!["Scenario".to_owned(), "Figure".to_owned()];
    header.extend(results.keys().map(|client| client.label().to_owned()));
    let floor = results.get(&Client::Floor);
    let rows: Vec<Vec<String>> = FIGURES
        .iter()
        .map(|figure| {
            let floor = floor.and_then(|measured| (figure.read)(measured));
            let mut row = vec![figure.scenario.to_owned(), figure.name.to_owned()];
            row.extend(
                results
                    .iter()
                    .map(|(client, measured)| cell(figure, measured, floor, *client)),
            );
            row
        })
        .collect();
    table::render(&header, &rows, 2)
}

/// One line per scenario that failed, with why.
pub fn failures(results: &Results) -> Vec<String> {
    let mut lines = Vec::new();
    for (client, measured) in results {
        let scenarios = [
            (
                "completion latency",
                measured.latency.as_ref().map(|r| r.as_ref().err()),
            ),
            (
                "cost per job",
                measured.cost.as_ref().map(|r| r.as_ref().err()),
            ),
            (
                "concurrency",
                measured.concurrency.as_ref().map(|r| r.as_ref().err()),
            ),
            ("upload", measured.upload.as_ref().map(|r| r.as_ref().err())),
        ];
        for (scenario, error) in scenarios {
            if let Some(Some(error)) = error {
                lines.push(format!("{} failed {scenario}: {error}", client.label()));
            }
        }
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::scenarios::Latency;

    #[test]
    fn numbers_keep_three_significant_digits() {
        assert_eq!(number(0.01234), "0.012");
        assert_eq!(number(1.234), "1.23");
        assert_eq!(number(12.34), "12.3");
        assert_eq!(number(1234.4), "1234");
        assert_eq!(number(3.0), "3");
    }

    #[test]
    fn cells_give_the_ratio_to_the_floor_and_say_what_is_missing() {
        let mut results = Results::new();
        results.insert(
            Client::Floor,
            Measured {
                latency: Some(Ok(Latency {
                    median_ms: 1.0,
                    p99_ms: 2.0,
                })),
                ..Measured::default()
            },
        );
        results.insert(
            Client::Rust,
            Measured {
                latency: Some(Ok(Latency {
                    median_ms: 1.5,
                    p99_ms: 3.0,
                })),
                cost: Some(Err("the driver exited early".into())),
                ..Measured::default()
            },
        );
        let table = render(&results);
        let cells: Vec<Vec<&str>> = table
            .lines()
            .map(|line| line.split('|').map(str::trim).skip(1).collect())
            .collect();
        assert_eq!(cells[0][2..4], ["floor (bare HTTP)", "fal-kontext (Rust)"]);
        assert_eq!(
            cells[2][..4],
            ["1. Completion latency", "median", "1 ms", "1.50 ms (×1.50)"]
        );
        assert_eq!(cells[3][2..4], ["2 ms", "3 ms (×1.50)"]);
        assert_eq!(cells[4][2..4], ["—", "failed"]);
        assert_eq!(
            failures(&results),
            ["fal-kontext (Rust) failed cost per job: the driver exited early"]
        );
    }
}
