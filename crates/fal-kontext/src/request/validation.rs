//! Every rule of a request, checked before anything is sent.

use std::time::Duration;

use crate::error::{Error, Result};

use super::builder::Request;
use super::kind::Kind;

impl<K: Kind> Request<K> {
    /// Checks every rule, sending nothing.
    pub(crate) fn validate(&self) -> Result<()> {
        let f = &self.fields;
        if let Some(scale) = f.guidance_scale {
            let (low, high) = self.kind.guidance_range();
            check(
                scale.is_finite() && (low..=high).contains(&scale),
                "guidance_scale",
                scale,
                &format!("must be from {low} to {high}"),
            )?;
        }
        if let Some(n) = f.num_images {
            check((1..=4).contains(&n), "num_images", n, "must be from 1 to 4")?;
        }
        if let Some(steps) = f.num_inference_steps {
            check(
                (10..=50).contains(&steps),
                "num_inference_steps",
                steps,
                "must be from 10 to 50",
            )?;
        }
        if self.kind.endpoint().contains("/multi") {
            check(
                !self.kind.images().is_empty(),
                "image_urls",
                "[]",
                "must hold at least one image",
            )?;
        }
        if let Some(url) = &self.queue.webhook {
            let ok = reqwest::Url::parse(url).is_ok_and(|u| matches!(u.scheme(), "http" | "https"));
            check(ok, "fal_webhook", url, "must be an http(s) URL")?;
        }
        if let Some(timeout) = self.queue.request_timeout {
            // the bound the submit operation declares (`exclusiveMinimum: 1`,
            // xtask's `submit_queue_options`, after fal's own clients)
            let ok = timeout > Duration::from_secs(1);
            check(
                ok,
                "x-fal-request-timeout",
                format!("{timeout:?}"),
                "must be more than 1 second",
            )?;
        }
        if let Some(hint) = &self.queue.runner_hint {
            let ok = reqwest::header::HeaderValue::from_str(hint).is_ok();
            check(
                ok,
                "x-fal-runner-hint",
                hint,
                "must be visible ASCII text (it is sent as a header)",
            )?;
        }
        self.kind.check(f)?;
        // Only `fields` can set a field of another kind's: the typed
        // setters exist on the kinds whose documents have the field.
        if let Some(row) = fal_kontext_api::endpoints::Endpoint::find(self.kind.endpoint()) {
            for (name, value) in f.set() {
                check(
                    row.fields.contains(&name),
                    name,
                    value,
                    &format!(
                        "is not a field of {} (it takes {})",
                        row.id,
                        row.fields.join(", ")
                    ),
                )?;
            }
        }
        crate::request::queue_options::validate(&self.queue)
    }
}

pub(crate) fn check(
    ok: bool,
    field: &'static str,
    value: impl std::fmt::Display,
    rule: &str,
) -> Result<()> {
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidInput {
            field,
            value: value.to_string(),
            rule: rule.into(),
        })
    }
}
