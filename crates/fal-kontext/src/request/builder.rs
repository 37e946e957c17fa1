//! The request being built: [`Request`] and its setters, which only record.

use std::time::Duration;

use super::values::{Acceleration, AspectRatio, OutputFormat, ResolutionMode, SafetyTolerance};
use crate::Client;
use crate::request::queue_options::{Priority, QueueOptions};

use super::fields::Fields;
use super::kind::{Kind, MatchesInputKind, OpenWeightsKind, ProKind, ProModel};

/// A request being built; `K` is the kind of endpoint ([`Edit`](crate::Edit),
/// [`TextToImage`](crate::TextToImage), [`Multi`](crate::Multi), [`Dev`](crate::Dev), the LoRA kinds
/// ([`LoraEdit`](crate::LoraEdit), [`LoraTextToImage`](crate::LoraTextToImage),
/// [`Inpaint`](crate::Inpaint)) or [`Train`](crate::Train)). Setters only record; every rule is
/// checked when the request is sent, before any byte leaves.
///
/// ```
/// use fal_kontext::{Client, OutputFormat};
/// let client = Client::builder().key("id:secret").build()?;
/// let request = client
///     .edit("Put a donut next to the flour.", "https://example.com/kitchen.png")
///     .seed(7)
///     .num_images(2)
///     .output_format(OutputFormat::Png)
///     .max();
/// assert_eq!(request.endpoint(), "fal-ai/flux-pro/kontext/max");
/// # Ok::<(), fal_kontext::Error>(())
/// ```
#[derive(Clone, Debug)]
#[must_use = "a request does nothing until it is sent with run, subscribe, submit or run_sync"]
pub struct Request<K> {
    pub(crate) client: Client,
    pub(crate) kind: K,
    pub(crate) prompt: String,
    pub(crate) fields: Fields,
    pub(crate) queue: QueueOptions,
}

impl Client {
    pub(crate) fn request<K: Kind>(&self, prompt: impl Into<String>, kind: K) -> Request<K> {
        Request {
            client: self.clone(),
            kind,
            prompt: prompt.into(),
            fields: Fields::default(),
            queue: QueueOptions::default(),
        }
    }
}

impl<K: Kind> Request<K> {
    /// The endpoint this request goes to.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// assert_eq!(client.dev("p", "a.png").endpoint(), "fal-ai/flux-kontext/dev");
    /// ```
    pub fn endpoint(&self) -> &'static str {
        self.kind.endpoint()
    }
    /// The seed: the same seed, prompt and input give the same image.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").seed(42);
    /// ```
    pub fn seed(mut self, seed: i64) -> Self {
        self.fields.seed = Some(seed);
        self
    }
    /// How closely to follow the prompt, 1 to 20 (fal's default: 3.5, dev 2.5).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").guidance_scale(5.0);
    /// ```
    pub fn guidance_scale(mut self, scale: f64) -> Self {
        self.fields.guidance_scale = Some(scale);
        self
    }
    /// How many images, 1 to 4 (default 1).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.text_to_image("A red kite").num_images(4);
    /// ```
    pub fn num_images(mut self, n: u8) -> Self {
        self.fields.num_images = Some(n);
        self
    }
    /// JPEG or PNG (default JPEG).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").output_format(fal_kontext::OutputFormat::Png);
    /// ```
    pub fn output_format(mut self, format: OutputFormat) -> Self {
        self.fields.output_format = Some(format);
        self
    }
    /// Return the images inline as `data:` URIs, kept out of fal's request history.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").sync_mode(true);
    /// ```
    pub fn sync_mode(mut self, on: bool) -> Self {
        self.fields.sync_mode = Some(on);
        self
    }
    /// Sets every field `fields` sets (a `Some`), keeping the others as
    /// they are: the fields' setters, all at once. A field the
    /// endpoint's document does not have is refused when the request is
    /// sent ([`Error::InvalidInput`](crate::Error::InvalidInput) naming it
    /// and the fields the endpoint takes).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let fields: fal_kontext::Fields = serde_json::from_str(r#"{"seed": 7, "num_images": 2}"#).unwrap();
    /// let request = client.edit("Make it night", "day.png").fields(fields);
    /// ```
    pub fn fields(mut self, fields: Fields) -> Self {
        self.fields = self.fields.merged(fields);
        self
    }
    /// A URL that fal calls with the result (`fal_webhook`).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").webhook("https://example.com/hooks/fal");
    /// ```
    pub fn webhook(mut self, url: impl Into<String>) -> Self {
        self.queue.webhook = Some(url.into());
        self
    }
    /// fal gives up on the request after this long, queueing included
    /// (`x-fal-request-timeout`; more than 1 second).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").request_timeout(std::time::Duration::from_secs(120));
    /// ```
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.queue.request_timeout = Some(timeout);
        self
    }
    /// The queue priority (`x-fal-queue-priority`).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").priority(fal_kontext::Priority::Low);
    /// ```
    pub fn priority(mut self, priority: Priority) -> Self {
        self.queue.priority = Some(priority);
        self
    }
    /// A routing hint for fal's runners (`x-fal-runner-hint`).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").runner_hint("user-1234");
    /// ```
    pub fn runner_hint(mut self, hint: impl Into<String>) -> Self {
        self.queue.runner_hint = Some(hint.into());
        self
    }
    /// How long the files of this request live on fal's CDN: its output
    /// images, and the local images it uploads as input
    /// (`x-fal-object-lifecycle-preference`, `{"expiration_duration_seconds": N}`).
    /// Whole seconds, from 1 second to 1000 years; unset, fal's default.
    /// Files on the CDN are public to anyone with the URL, and gone for good
    /// once they expire: download what you keep.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").cdn_lifetime(std::time::Duration::from_secs(3600));
    /// ```
    pub fn cdn_lifetime(mut self, lifetime: Duration) -> Self {
        self.queue.cdn_lifetime = Some(lifetime);
        self
    }
    /// `false`: fal keeps no copy of the request's input and output in its
    /// history (`x-fal-store-io: 0`; kept 30 days otherwise). Files on the
    /// CDN are still stored (see [`cdn_lifetime`](Self::cdn_lifetime)).
    /// `true`, the default, sends nothing.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").store_io(false);
    /// ```
    pub fn store_io(mut self, store: bool) -> Self {
        self.queue.store_io = Some(store);
        self
    }
    /// `true`: fal does not retry the request internally
    /// (`x-fal-no-retry: 1`); the SDK's own retries of the calls it makes
    /// are unchanged. `false`, the default, sends nothing.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").no_retry(true);
    /// ```
    pub fn no_retry(mut self, no_retry: bool) -> Self {
        self.queue.no_retry = Some(no_retry);
        self
    }
    /// fal refuses the submit with a 429 when the endpoint's queue is longer
    /// than `length` (`fal_max_queue_length`; 1 or more). A 429 is retried by
    /// the client's [`RetryPolicy`](crate::RetryPolicy) (fal never started
    /// the job), then ends as [`Error::RateLimited`](crate::Error::RateLimited).
    /// Queue only: `run_sync` does not send it.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").max_queue_length(20);
    /// ```
    pub fn max_queue_length(mut self, length: u32) -> Self {
        self.queue.max_queue_length = Some(length);
        self
    }
    /// An extra header on the submit (and on `run_sync`), for an option fal
    /// adds after this SDK was written. The name must be a valid header
    /// name and not one the SDK sets itself (`authorization`, `content-type`,
    /// the `x-fal-…` headers it has a method for, …), the value visible ASCII;
    /// a name given twice keeps its last value. Checked when the request is sent.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").header("x-fal-new-option", "on");
    /// ```
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.queue.headers.push((name.into(), value.into()));
        self
    }
    /// How long `run` and `subscribe` wait before cancelling (default: the client's).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").timeout(std::time::Duration::from_secs(90));
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.queue.wait_timeout = Some(timeout);
        self
    }
}

impl<K: ProKind> Request<K> {
    /// Use FLUX.1 Kontext \[max\] instead of \[pro\].
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// assert_eq!(client.multi("p", ["a.png", "b.png"]).max().endpoint(), "fal-ai/flux-pro/kontext/max/multi");
    /// ```
    pub fn max(mut self) -> Self {
        self.kind.set_model(ProModel::Max);
        self
    }
    /// Choose \[pro\] or \[max\].
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.text_to_image("p").model(fal_kontext::ProModel::Max);
    /// assert_eq!(request.endpoint(), "fal-ai/flux-pro/kontext/max/text-to-image");
    /// ```
    pub fn model(mut self, model: ProModel) -> Self {
        self.kind.set_model(model);
        self
    }
    /// The safety filter's tolerance, 1 (strictest) to 6.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.edit("Make it night", "day.png").safety_tolerance(fal_kontext::SafetyTolerance::Level4);
    /// ```
    pub fn safety_tolerance(mut self, tolerance: SafetyTolerance) -> Self {
        self.fields.safety_tolerance = Some(tolerance);
        self
    }
    /// The aspect ratio of the result.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.text_to_image("A red kite").aspect_ratio(fal_kontext::AspectRatio::Portrait9x16);
    /// ```
    pub fn aspect_ratio(mut self, ratio: AspectRatio) -> Self {
        self.fields.aspect_ratio = Some(ratio);
        self
    }
    /// Let fal rewrite the prompt for better results.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.text_to_image("kite").enhance_prompt(true);
    /// ```
    pub fn enhance_prompt(mut self, on: bool) -> Self {
        self.fields.enhance_prompt = Some(on);
        self
    }
}

impl<K: OpenWeightsKind> Request<K> {
    /// Denoising steps, 10 to 50 (default 28; 30 on the LoRA endpoints).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.dev("Make it snow", "street.jpg").num_inference_steps(40);
    /// ```
    pub fn num_inference_steps(mut self, steps: u8) -> Self {
        self.fields.num_inference_steps = Some(steps);
        self
    }
    /// Turn fal's safety checker on or off (default on).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.dev("Make it snow", "street.jpg").enable_safety_checker(false);
    /// ```
    pub fn enable_safety_checker(mut self, on: bool) -> Self {
        self.fields.enable_safety_checker = Some(on);
        self
    }
    /// Trade quality for speed.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.dev("Make it snow", "street.jpg").acceleration(fal_kontext::Acceleration::High);
    /// ```
    pub fn acceleration(mut self, acceleration: Acceleration) -> Self {
        self.fields.acceleration = Some(acceleration);
        self
    }
}

impl<K: MatchesInputKind> Request<K> {
    /// The output size.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.dev("Make it snow", "street.jpg").resolution_mode(fal_kontext::ResolutionMode::Landscape16x9);
    /// ```
    pub fn resolution_mode(mut self, mode: ResolutionMode) -> Self {
        self.fields.resolution_mode = Some(mode);
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    fn client() -> Client {
        Client::builder().key("id:secret").build().unwrap()
    }

    #[test]
    fn fields_set_what_the_setters_set_and_keep_the_rest() {
        let fields: Fields = serde_json::from_str(
            r#"{"num_images": 2, "output_format": "png", "safety_tolerance": 5, "aspect_ratio": null}"#,
        )
        .unwrap();
        let by_fields = client()
            .edit("p", "https://example.com/a.png")
            .seed(7)
            .fields(fields);
        let by_setters = client()
            .edit("p", "https://example.com/a.png")
            .seed(7)
            .num_images(2)
            .output_format(OutputFormat::Png)
            .safety_tolerance(SafetyTolerance::Level5);
        assert_eq!(by_fields.fields, by_setters.fields);
        by_fields.validate().unwrap();
    }

    #[test]
    fn a_field_the_endpoint_does_not_have_is_refused_naming_it() {
        let fields = Fields {
            num_inference_steps: Some(30),
            ..Fields::default()
        };
        let error = client()
            .edit("p", "https://example.com/a.png")
            .fields(fields.clone())
            .validate()
            .unwrap_err();
        let Error::InvalidInput { field, rule, .. } = error else {
            panic!("{error:?}")
        };
        assert_eq!(field, "num_inference_steps");
        assert!(
            rule.starts_with("is not a field of fal-ai/flux-pro/kontext (it takes "),
            "{rule}"
        );
        // [dev] has it
        let dev = client()
            .dev("p", "https://example.com/a.png")
            .fields(fields);
        dev.validate().unwrap();
    }

    #[test]
    fn unknown_names_are_refused() {
        let error = serde_json::from_str::<Fields>(r#"{"sede": 7}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown field `sede`"),
            "{error}"
        );
    }
}
