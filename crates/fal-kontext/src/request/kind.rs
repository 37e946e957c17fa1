//! What a kind of endpoint is: the [`Kind`] trait every request's kind
//! implements, and the traits that give a kind its own setters.

use crate::error::Result;
use crate::image_input::ImageInput;

use super::fields::Fields;

pub use crate::local_file::FileSource;

/// The typed input of one endpoint, as its generated submit operation takes
/// it (generated with the table of endpoints).
pub use fal_kontext_api::endpoints::Input;

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

/// Only the crate's kinds are [`Kind`]s: each kind's module implements it.
pub(crate) mod sealed {
    pub trait Sealed {}
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

/// Kinds that exist as \[pro\] and \[max\].
pub trait ProKind: Kind {
    #[doc(hidden)]
    fn set_model(&mut self, model: ProModel);
}

/// Kinds of the open-weights FLUX.1 Kontext \[dev\] model (\[dev\] and the
/// LoRA endpoints): steps, safety checker and acceleration are theirs.
pub trait OpenWeightsKind: Kind {}

/// Kinds that edit one image and size their output from it
/// (`resolution_mode`): \[dev\] and the LoRA edit.
pub trait MatchesInputKind: OpenWeightsKind {}
