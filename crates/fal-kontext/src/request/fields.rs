//! The optional input fields of a request, as one value.

use super::values::{Acceleration, AspectRatio, OutputFormat, ResolutionMode, SafetyTolerance};

/// The optional input fields of a request, named as fal names them: each
/// `Some` is sent, each `None` left to fal's default. The setters of
/// [`Request`](crate::Request) set them one by one; [`Request::fields`](crate::Request::fields) takes them all at
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
    pub(super) fn set(&self) -> Vec<(&'static str, String)> {
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
    pub(super) fn merged(self, other: Fields) -> Fields {
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
