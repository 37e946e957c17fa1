//! Typed requests: one builder per endpoint kind, validated before anything
//! is sent, turned into the generated input type of the endpoint.

use std::time::Duration;

use fal_kontext_api::types;

use crate::Client;
use crate::endpoints;
use crate::error::{Error, Result};
use crate::image_input::ImageInput;
use crate::options::{Acceleration, AspectRatio, OutputFormat, ResolutionMode, SafetyTolerance};
use crate::submit_options::{Priority, QueueOptions};

/// The optional input fields of a request, named as fal names them: each
/// `Some` is sent, each `None` left to fal's default. The setters of
/// [`Request`] set them one by one; [`Request::fields`] takes them all at
/// once, such as read from a batch line or a settings file (it is
/// `serde::Deserialize`, in fal's names and spellings; an unknown name is
/// refused). A field the endpoint's document does not have is refused when
/// the request is sent, naming it.
///
/// ```
/// let fields: fal_kontext::Fields =
///     serde_json::from_str(r#"{"seed": 7, "output_format": "png", "safety_tolerance": "5"}"#)?;
/// assert_eq!(fields.seed, Some(7));
/// assert_eq!(fields.output_format, Some(fal_kontext::OutputFormat::Png));
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fields {
    /// `seed`: the same seed, prompt and input give the same image.
    pub seed: Option<i64>,
    /// `guidance_scale`: how closely to follow the prompt.
    pub guidance_scale: Option<f64>,
    /// `num_images`: 1 to 4.
    pub num_images: Option<u8>,
    /// `output_format`.
    pub output_format: Option<OutputFormat>,
    /// `sync_mode`: the images inline as `data:` URIs.
    pub sync_mode: Option<bool>,
    /// `enhance_prompt` (\[pro\] and \[max\]).
    pub enhance_prompt: Option<bool>,
    /// `safety_tolerance` (\[pro\] and \[max\]).
    pub safety_tolerance: Option<SafetyTolerance>,
    /// `aspect_ratio` (\[pro\] and \[max\]).
    pub aspect_ratio: Option<AspectRatio>,
    /// `num_inference_steps` (\[dev\] and the LoRA endpoints).
    pub num_inference_steps: Option<u8>,
    /// `enable_safety_checker` (\[dev\] and the LoRA endpoints).
    pub enable_safety_checker: Option<bool>,
    /// `acceleration` (\[dev\] and the LoRA endpoints).
    pub acceleration: Option<Acceleration>,
    /// `resolution_mode` (\[dev\] and the LoRA edit).
    pub resolution_mode: Option<ResolutionMode>,
}

impl Fields {
    /// The fields that are set: fal's name and the value.
    fn set(&self) -> Vec<(&'static str, String)> {
        fn named<T: std::fmt::Display>(
            name: &'static str,
            value: Option<T>,
        ) -> Option<(&'static str, String)> {
            value.map(|value| (name, value.to_string()))
        }
        [
            named("seed", self.seed),
            named("guidance_scale", self.guidance_scale),
            named("num_images", self.num_images),
            named("output_format", self.output_format),
            named("sync_mode", self.sync_mode),
            named("enhance_prompt", self.enhance_prompt),
            named("safety_tolerance", self.safety_tolerance),
            named("aspect_ratio", self.aspect_ratio),
            named("num_inference_steps", self.num_inference_steps),
            named("enable_safety_checker", self.enable_safety_checker),
            named("acceleration", self.acceleration),
            named("resolution_mode", self.resolution_mode),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// `self` with every field `other` sets replaced by its value.
    fn merged(self, other: Fields) -> Fields {
        Fields {
            seed: other.seed.or(self.seed),
            guidance_scale: other.guidance_scale.or(self.guidance_scale),
            num_images: other.num_images.or(self.num_images),
            output_format: other.output_format.or(self.output_format),
            sync_mode: other.sync_mode.or(self.sync_mode),
            enhance_prompt: other.enhance_prompt.or(self.enhance_prompt),
            safety_tolerance: other.safety_tolerance.or(self.safety_tolerance),
            aspect_ratio: other.aspect_ratio.or(self.aspect_ratio),
            num_inference_steps: other.num_inference_steps.or(self.num_inference_steps),
            enable_safety_checker: other.enable_safety_checker.or(self.enable_safety_checker),
            acceleration: other.acceleration.or(self.acceleration),
            resolution_mode: other.resolution_mode.or(self.resolution_mode),
        }
    }
}

/// Kontext \[pro\] or \[max\].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ProModel {
    /// FLUX.1 Kontext \[pro\] (the default).
    #[default]
    Pro,
    /// FLUX.1 Kontext \[max\].
    Max,
}

/// An edit of one image (`fal-ai/flux-pro/kontext`, or `…/max`).
#[derive(Clone, Debug)]
pub struct Edit {
    model: ProModel,
    image: ImageInput,
}

/// An image from text alone (`fal-ai/flux-pro/kontext/text-to-image`, or `…/max/…`).
#[derive(Clone, Debug)]
pub struct TextToImage {
    model: ProModel,
}

/// An edit with several reference images (`fal-ai/flux-pro/kontext/multi`, or `…/max/…`).
#[derive(Clone, Debug)]
pub struct Multi {
    model: ProModel,
    images: Vec<ImageInput>,
}

/// An edit with the open-weights model (`fal-ai/flux-kontext/dev`).
#[derive(Clone, Debug)]
pub struct Dev {
    image: ImageInput,
}

/// A request being built; `K` is the kind of endpoint ([`Edit`],
/// [`TextToImage`], [`Multi`], [`Dev`], the LoRA kinds
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

/// What an endpoint kind does with the fields. Sealed: implemented by the kinds of this crate.
pub trait Kind: sealed::Sealed + Clone + Send + Sync + 'static {
    /// The decoded output of the endpoint.
    type Output: serde::de::DeserializeOwned + Send + 'static;
    #[doc(hidden)]
    fn endpoint(&self) -> &'static str;
    #[doc(hidden)]
    fn images(&self) -> Vec<(&'static str, &ImageInput)>;
    /// Local files other than images that the request uploads (LoRA
    /// weights, a training zip), after its images.
    #[doc(hidden)]
    fn files(&self) -> Vec<(&'static str, FileSource<'_>)> {
        Vec::new()
    }
    /// `guidance_scale`'s allowed range: 1 to 20 on the \[pro\], \[max\]
    /// and \[dev\] documents.
    #[doc(hidden)]
    fn guidance_range(&self) -> (f64, f64) {
        (1.0, 20.0)
    }
    /// The kind's own rules, checked with the common ones before anything is sent.
    #[doc(hidden)]
    fn check(&self, _fields: &Fields) -> Result<()> {
        Ok(())
    }
    /// The input, given the URLs of [`images`](Self::images) followed by
    /// those of [`files`](Self::files).
    #[doc(hidden)]
    fn input(&self, prompt: &str, fields: &Fields, image_urls: Vec<String>) -> Result<Input>;
}

pub use crate::local_file::FileSource;

/// The typed input of one endpoint, as its generated submit operation takes
/// it (generated with the table of endpoints).
pub use fal_kontext_api::endpoints::Input;

/// Only the crate's kinds are [`Kind`]s: each kind's module implements it.
pub(crate) mod sealed {
    pub trait Sealed {}
    impl Sealed for super::Edit {}
    impl Sealed for super::TextToImage {}
    impl Sealed for super::Multi {}
    impl Sealed for super::Dev {}
}

/// The output of an [`Edit`] (\[pro\] and \[max\] share its schema).
pub type EditOutput = types::FluxProKontextOutput;
/// The output of a [`TextToImage`] (\[pro\] and \[max\] share its schema).
pub type TextToImageOutput = types::FluxProKontextTextToImageOutput;
/// The output of a [`Multi`] (\[pro\] and \[max\] share its schema).
pub type MultiOutput = types::FluxProKontextMultiOutput;
/// The output of a [`Dev`] edit.
pub type DevOutput = types::FluxKontextDevOutput;

pub(crate) fn num_images(fields: &Fields) -> Option<std::num::NonZeroU64> {
    fields
        .num_images
        .and_then(|n| std::num::NonZeroU64::new(n.into()))
}

fn image_url(urls: &[String]) -> Result<types::ImageUrl> {
    let url = urls.first().cloned().unwrap_or_default();
    url.clone().try_into().map_err(|_| Error::InvalidInput {
        field: "image_url",
        value: url,
        rule: "must not be empty".into(),
    })
}

/// A generated input type from its builder. Every value was checked before,
/// so a refusal here is a rule the SDK does not know yet: it names it.
pub(crate) fn built<B, T>(builder: B) -> Result<T>
where
    B: TryInto<T, Error = types::error::ConversionError>,
{
    builder.try_into().map_err(|error| Error::InvalidInput {
        field: "input",
        value: String::new(),
        rule: error.to_string(),
    })
}

/// Builds a \[pro\]/\[max\] input type with its generated builder; they
/// share every field but the images, given as `setter(value)` after the
/// fields (a field fal adds to one endpoint is one more `setter(value)`
/// there, to every endpoint one more line here).
macro_rules! pro_input {
    ($variant:ident, $ty:ident, $prompt:expr, $fields:expr $(, $setter:ident($value:expr))* $(,)?) => {
        built(
            types::$ty::builder()
                .prompt($prompt.to_string())
                .seed($fields.seed)
                .guidance_scale($fields.guidance_scale)
                .num_images(num_images($fields))
                .output_format($fields.output_format.map(types::OutputFormat::from))
                .sync_mode($fields.sync_mode)
                .enhance_prompt($fields.enhance_prompt)
                .safety_tolerance($fields.safety_tolerance.map(types::SafetyTolerance::from))
                .aspect_ratio($fields.aspect_ratio.map(types::AspectRatio::from))
                $(.$setter($value))*,
        )
        .map(Input::$variant)
    };
}

impl Kind for Edit {
    type Output = EditOutput;
    fn endpoint(&self) -> &'static str {
        match self.model {
            ProModel::Pro => endpoints::FLUX_PRO_KONTEXT,
            ProModel::Max => endpoints::FLUX_PRO_KONTEXT_MAX,
        }
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![("image_url", &self.image)]
    }
    fn input(&self, prompt: &str, fields: &Fields, urls: Vec<String>) -> Result<Input> {
        let url = image_url(&urls)?;
        match self.model {
            ProModel::Pro => {
                pro_input!(
                    FluxProKontext,
                    FluxProKontextInput,
                    prompt,
                    fields,
                    image_url(url)
                )
            }
            ProModel::Max => {
                pro_input!(
                    FluxProKontextMax,
                    FluxProKontextMaxInput,
                    prompt,
                    fields,
                    image_url(url)
                )
            }
        }
    }
}

impl Kind for TextToImage {
    type Output = TextToImageOutput;
    fn endpoint(&self) -> &'static str {
        match self.model {
            ProModel::Pro => endpoints::FLUX_PRO_KONTEXT_TEXT_TO_IMAGE,
            ProModel::Max => endpoints::FLUX_PRO_KONTEXT_MAX_TEXT_TO_IMAGE,
        }
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![]
    }
    fn input(&self, prompt: &str, fields: &Fields, _: Vec<String>) -> Result<Input> {
        match self.model {
            ProModel::Pro => pro_input!(
                FluxProKontextTextToImage,
                FluxProKontextTextToImageInput,
                prompt,
                fields,
            ),
            ProModel::Max => pro_input!(
                FluxProKontextMaxTextToImage,
                FluxProKontextMaxTextToImageInput,
                prompt,
                fields,
            ),
        }
    }
}

impl Kind for Multi {
    type Output = MultiOutput;
    fn endpoint(&self) -> &'static str {
        match self.model {
            ProModel::Pro => endpoints::FLUX_PRO_KONTEXT_MULTI,
            ProModel::Max => endpoints::FLUX_PRO_KONTEXT_MAX_MULTI,
        }
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        self.images
            .iter()
            .map(|image| ("image_urls", image))
            .collect()
    }
    fn input(&self, prompt: &str, fields: &Fields, urls: Vec<String>) -> Result<Input> {
        match self.model {
            ProModel::Pro => {
                pro_input!(
                    FluxProKontextMulti,
                    FluxProKontextMultiInput,
                    prompt,
                    fields,
                    image_urls(urls)
                )
            }
            ProModel::Max => pro_input!(
                FluxProKontextMaxMulti,
                FluxProKontextMaxMultiInput,
                prompt,
                fields,
                image_urls(urls)
            ),
        }
    }
}

impl Kind for Dev {
    type Output = DevOutput;
    fn endpoint(&self) -> &'static str {
        endpoints::FLUX_KONTEXT_DEV
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![("image_url", &self.image)]
    }
    fn input(&self, prompt: &str, fields: &Fields, urls: Vec<String>) -> Result<Input> {
        built(
            types::FluxKontextDevInput::builder()
                .prompt(prompt.to_string())
                .image_url(urls.into_iter().next().unwrap_or_default())
                .seed(fields.seed)
                .guidance_scale(fields.guidance_scale)
                .num_images(num_images(fields))
                .num_inference_steps(fields.num_inference_steps.map(i64::from))
                .output_format(fields.output_format.map(types::OutputFormat::from))
                .sync_mode(fields.sync_mode)
                .enable_safety_checker(fields.enable_safety_checker)
                .acceleration(fields.acceleration.map(types::Acceleration::from))
                .resolution_mode(fields.resolution_mode.map(types::ResolutionMode::from)),
        )
        .map(Input::FluxKontextDev)
    }
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

    /// Edits an image with a prompt (`fal-ai/flux-pro/kontext`; `.max()` for \[max\]).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client.edit("Put a donut next to the flour.", "kitchen.png").run().await?;
    /// client.download(&done.output, "out").await?;
    /// # Ok(()) }
    /// ```
    pub fn edit(&self, prompt: impl Into<String>, image: impl Into<ImageInput>) -> Request<Edit> {
        self.request(
            prompt,
            Edit {
                model: ProModel::Pro,
                image: image.into(),
            },
        )
    }

    /// Makes an image from a prompt alone (`fal-ai/flux-pro/kontext/text-to-image`).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client.text_to_image("A lighthouse at dusk").aspect_ratio(fal_kontext::AspectRatio::Landscape16x9).run().await?;
    /// println!("{}", done.output.images[0].url);
    /// # Ok(()) }
    /// ```
    pub fn text_to_image(&self, prompt: impl Into<String>) -> Request<TextToImage> {
        self.request(
            prompt,
            TextToImage {
                model: ProModel::Pro,
            },
        )
    }

    /// Edits with several reference images (`fal-ai/flux-pro/kontext/multi`).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client.multi("Put the cat on the sofa", ["cat.png", "sofa.jpg"]).run().await?;
    /// # Ok(()) }
    /// ```
    pub fn multi<I: Into<ImageInput>>(
        &self,
        prompt: impl Into<String>,
        images: impl IntoIterator<Item = I>,
    ) -> Request<Multi> {
        let images = images.into_iter().map(Into::into).collect();
        self.request(
            prompt,
            Multi {
                model: ProModel::Pro,
                images,
            },
        )
    }

    /// Edits an image with the open-weights model (`fal-ai/flux-kontext/dev`).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client.dev("Make it snow", "street.jpg").num_inference_steps(30).run().await?;
    /// # Ok(()) }
    /// ```
    pub fn dev(&self, prompt: impl Into<String>, image: impl Into<ImageInput>) -> Request<Dev> {
        self.request(
            prompt,
            Dev {
                image: image.into(),
            },
        )
    }
}

/// Kinds that exist as \[pro\] and \[max\].
pub trait ProKind: Kind {
    #[doc(hidden)]
    fn set_model(&mut self, model: ProModel);
}

impl ProKind for Edit {
    fn set_model(&mut self, model: ProModel) {
        self.model = model;
    }
}
impl ProKind for TextToImage {
    fn set_model(&mut self, model: ProModel) {
        self.model = model;
    }
}
impl ProKind for Multi {
    fn set_model(&mut self, model: ProModel) {
        self.model = model;
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
        crate::submit_options::validate(&self.queue)
    }

    /// Validates, resolves the images (inline or uploaded) and builds the
    /// typed input. Every local image is checked before the first upload starts.
    pub(crate) async fn body(&self) -> Result<Input> {
        self.validate()?;
        let mut prepared = Vec::new();
        for (field, image) in self.kind.images() {
            prepared.push(image.prepare(field).await?);
        }
        let mut files = Vec::new();
        for (field, file) in self.kind.files() {
            files.push(file.prepare(field).await?);
        }
        let mut urls = Vec::with_capacity(prepared.len() + files.len());
        for image in prepared {
            urls.push(
                image
                    .into_url(&self.client, self.queue.cdn_lifetime)
                    .await?,
            );
        }
        for file in files {
            urls.push(file.upload(&self.client, self.queue.cdn_lifetime).await?);
        }
        self.kind.input(&self.prompt, &self.fields, urls)
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

/// Kinds of the open-weights FLUX.1 Kontext \[dev\] model (\[dev\] and the
/// LoRA endpoints): steps, safety checker and acceleration are theirs.
pub trait OpenWeightsKind: Kind {}
impl OpenWeightsKind for Dev {}

/// Kinds that edit one image and size their output from it
/// (`resolution_mode`): \[dev\] and the LoRA edit.
pub trait MatchesInputKind: OpenWeightsKind {}
impl MatchesInputKind for Dev {}

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
