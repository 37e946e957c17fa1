//! Which rule fires: the live rules of one emulator, their uses, windows
//! and deterministic draws, asked once per request.

use tokio::time::Instant;

use super::rules::{Fault, FaultRule};
use crate::rng::SplitMix64;
use crate::route::Route;

/// A rule as the engine keeps it: with the end of its window.
struct LiveRule {
    rule: FaultRule,
    until: Option<Instant>,
}

/// The live fault rules of one emulator.
pub(crate) struct FaultEngine {
    rules: Vec<LiveRule>,
    rng: SplitMix64,
}

impl FaultEngine {
    pub(crate) fn new(rules: Vec<FaultRule>) -> Self {
        let mut engine = Self {
            rules: Vec::new(),
            rng: SplitMix64::new(0xFA17),
        };
        engine.replace(rules);
        engine
    }

    /// Sets the rules, their windows starting now; `true` when they start an
    /// outage (which cuts the open status streams).
    pub(crate) fn replace(&mut self, rules: Vec<FaultRule>) -> bool {
        let now = Instant::now();
        let outage = rules.iter().any(|rule| matches!(rule.fault, Fault::Outage));
        self.rules = rules
            .into_iter()
            .map(|rule| LiveRule {
                until: rule.window.and_then(|window| now.checked_add(window)),
                rule,
            })
            .collect();
        outage
    }

    /// The fault for this request, if any: the first rule that matches the
    /// route, has uses left, is within its window and wins its draw. Spent
    /// and expired rules are dropped.
    pub(crate) fn pick(&mut self, route: Route) -> Option<Fault> {
        let now = Instant::now();
        self.rules
            .retain(|live| live.until.is_none_or(|until| now < until));
        let index = self.rules.iter().position(|LiveRule { rule, .. }| {
            rule.route.covers(route)
                && rule.times != Some(0)
                && (rule.rate >= 1.0 || self.rng.next_f64() < rule.rate)
        })?;
        let rule = &mut self.rules[index].rule;
        let fault = rule.fault.clone();
        if let Some(left) = rule.times.as_mut() {
            *left -= 1;
            if *left == 0 {
                self.rules.remove(index);
            }
        }
        Some(fault)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn once_rules_are_spent_and_others_keep_going() {
        let mut engine = FaultEngine::new(vec![
            FaultRule::once(Route::Submit, Fault::AppError),
            FaultRule::rate(Route::Any, Fault::NotFound, 1.0),
        ]);
        assert!(matches!(engine.pick(Route::Submit), Some(Fault::AppError)));
        assert!(matches!(engine.pick(Route::Submit), Some(Fault::NotFound)));
        assert!(matches!(engine.pick(Route::Cdn), Some(Fault::NotFound)));
    }

    #[test]
    fn rates_hit_about_their_share_deterministically() {
        let hits = |seed_rules: f64| {
            let mut engine = FaultEngine::new(vec![FaultRule::rate(
                Route::Status,
                Fault::AppError,
                seed_rules,
            )]);
            (0..1000)
                .filter(|_| engine.pick(Route::Status).is_some())
                .count()
        };
        let first = hits(0.3);
        assert_eq!(first, hits(0.3), "same rules, same draws");
        assert!(
            (200..400).contains(&first),
            "{first} hits of 1000 at rate 0.3"
        );
        assert_eq!(hits(0.0), 0);
    }

    #[test]
    fn windowed_rules_apply_only_within_their_window() {
        let mut engine = FaultEngine::new(vec![
            FaultRule::during(Route::Status, Fault::AppError, Duration::ZERO),
            FaultRule::during(Route::Result, Fault::AppError, Duration::from_secs(3600)),
        ]);
        assert!(
            engine.pick(Route::Status).is_none(),
            "an empty window is over"
        );
        assert!(engine.pick(Route::Result).is_some());
        assert!(engine.pick(Route::Result).is_some(), "no use count");
    }

    #[test]
    fn an_outage_covers_the_queue_calls_only_and_is_reported_when_set() {
        let mut engine = FaultEngine::new(Vec::new());
        assert!(!engine.replace(vec![FaultRule::once(Route::Cdn, Fault::Truncate)]));
        assert!(engine.replace(vec![FaultRule::outage(Duration::from_secs(3600))]));
        for route in [
            Route::Submit,
            Route::Status,
            Route::Stream,
            Route::Result,
            Route::Cancel,
        ] {
            assert!(
                matches!(engine.pick(route), Some(Fault::Outage)),
                "{route:?}"
            );
        }
        for route in [
            Route::Run,
            Route::UploadInitiate,
            Route::UploadPut,
            Route::Cdn,
            Route::OpenApi,
            Route::Pricing,
            Route::Estimate,
        ] {
            assert!(engine.pick(route).is_none(), "{route:?}");
        }
    }

    #[test]
    fn unmatched_routes_are_untouched() {
        let mut engine = FaultEngine::new(vec![FaultRule::once(Route::Cdn, Fault::Truncate)]);
        assert!(engine.pick(Route::Submit).is_none());
        assert!(engine.pick(Route::Cdn).is_some());
        assert!(engine.pick(Route::Cdn).is_none());
    }
}
