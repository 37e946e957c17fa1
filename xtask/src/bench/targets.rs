//! The targets for the Rust client, checked against a run.

use super::clients::Client;
use super::figures::number;
use super::results::{Measured, Results};

pub enum Verdict {
    Met,
    Missed,
    /// The figures it needs were not measured (a failure, or no peer).
    Unmeasured,
}

pub struct Target {
    pub goal: &'static str,
    pub verdict: Verdict,
    /// The figure that decided it, or why there is none.
    pub measured: String,
}

/// A client's figure, or why there is none.
fn figure<T>(
    results: &Results,
    client: Client,
    slot: impl Fn(&Measured) -> &Option<Result<T, String>>,
    value: impl Fn(&T) -> f64,
) -> Result<f64, String> {
    match results.get(&client).map(&slot) {
        Some(Some(Ok(measured))) => Ok(value(measured)),
        Some(Some(Err(_))) => Err(format!("{} failed", client.label())),
        _ => Err(format!("{} not run", client.label())),
    }
}

fn judge(goal: &'static str, outcome: Result<(bool, String), String>) -> Target {
    match outcome {
        Ok((met, measured)) => Target {
            goal,
            verdict: if met { Verdict::Met } else { Verdict::Missed },
            measured,
        },
        Err(why) => Target {
            goal,
            verdict: Verdict::Unmeasured,
            measured: why,
        },
    }
}

pub fn check(results: &Results) -> Vec<Target> {
    let p99 = figure(results, Client::Rust, |m| &m.latency, |l| l.p99_ms);
    let requests = figure(results, Client::Rust, |m| &m.cost, |c| c.requests);
    let cpu = figure(results, Client::Rust, |m| &m.cost, |c| c.cpu_ms);
    let lowest_peer_cpu = [Client::Python, Client::Js]
        .into_iter()
        .filter_map(|peer| figure(results, peer, |m| &m.cost, |c| c.cpu_ms).ok())
        .min_by(f64::total_cmp)
        .ok_or_else(|| "no peer measured".to_owned());
    let wall = figure(results, Client::Rust, |m| &m.concurrency, |c| c.wall_s);
    let floor_wall = figure(results, Client::Floor, |m| &m.concurrency, |c| c.wall_s);
    let rss = figure(
        results,
        Client::Rust,
        |m| &m.concurrency,
        |c| c.peak_rss_mib,
    );
    let growth = figure(results, Client::Rust, |m| &m.upload, |u| u.rss_growth_mib);
    vec![
        judge(
            "completion latency p99 under 5 ms",
            p99.map(|p99| (p99 < 5.0, format!("{} ms", number(p99)))),
        ),
        judge(
            "at most 3 HTTP requests per job",
            requests.map(|n| (n <= 3.0, number(n))),
        ),
        judge(
            "a tenth of the CPU per job of the lowest peer",
            cpu.and_then(|cpu| {
                let peer = lowest_peer_cpu?;
                Ok((
                    cpu <= peer / 10.0,
                    format!(
                        "{} ms against {} ms (÷{})",
                        number(cpu),
                        number(peer),
                        number(peer / cpu)
                    ),
                ))
            }),
        ),
        judge(
            "1,000 jobs at once within 10% of the floor's wall time",
            wall.and_then(|wall| {
                let floor = floor_wall?;
                Ok((
                    wall <= floor * 1.1,
                    format!(
                        "{} s against {} s (×{})",
                        number(wall),
                        number(floor),
                        number(wall / floor)
                    ),
                ))
            }),
        ),
        judge(
            "peak RSS under 64 MiB with 1,000 jobs at once",
            rss.map(|rss| (rss < 64.0, format!("{} MiB", number(rss)))),
        ),
        judge(
            "a 30 MB upload grows RSS by under 8 MiB (streamed)",
            growth.map(|growth| (growth < 8.0, format!("{} MiB", number(growth)))),
        ),
    ]
}

/// One line per target: met, missed or unmeasured, with its figure.
pub fn render(targets: &[Target]) -> String {
    targets
        .iter()
        .map(|target| {
            let verdict = match target.verdict {
                Verdict::Met => "met",
                Verdict::Missed => "MISSED",
                Verdict::Unmeasured => "not measured",
            };
            format!("- {verdict}: {} — {}", target.goal, target.measured)
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::scenarios::{Cost, Latency};

    #[test]
    fn targets_compare_with_the_lowest_peer_and_say_what_is_missing() {
        let cost = |cpu_ms, requests| Cost {
            cpu_ms,
            requests,
            connections: Some(1),
        };
        let mut results = Results::new();
        results.insert(
            Client::Rust,
            Measured {
                latency: Some(Ok(Latency {
                    median_ms: 1.0,
                    p99_ms: 6.0,
                })),
                cost: Some(Ok(cost(0.2, 3.0))),
                ..Measured::default()
            },
        );
        results.insert(
            Client::Python,
            Measured {
                cost: Some(Ok(cost(5.0, 4.0))),
                ..Measured::default()
            },
        );
        results.insert(
            Client::Js,
            Measured {
                cost: Some(Ok(cost(1.0, 4.0))),
                ..Measured::default()
            },
        );
        let rendered = render(&check(&results));
        let lines: Vec<&str> = rendered.lines().collect();
        assert_eq!(
            lines[0],
            "- MISSED: completion latency p99 under 5 ms — 6 ms"
        );
        assert_eq!(lines[1], "- met: at most 3 HTTP requests per job — 3");
        assert_eq!(
            lines[2],
            "- MISSED: a tenth of the CPU per job of the lowest peer — 0.200 ms against 1 ms (÷5)"
        );
        assert_eq!(
            lines[3],
            "- not measured: 1,000 jobs at once within 10% of the floor's wall time — fal-kontext (Rust) not run"
        );
    }
}
