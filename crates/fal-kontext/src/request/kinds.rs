//! The kinds of the \[pro\], \[max\] and \[dev\] endpoints: their
//! builders (`Client::edit`, `text_to_image`, `multi`, `dev`) and inputs.

use fal_kontext_api::types;

use crate::Client;
use crate::endpoints;
use crate::error::Result;
use crate::image_input::ImageInput;

use super::builder::Request;
use super::fields::Fields;
use super::inputs::{built, image_url, num_images};
use super::kind::{Input, Kind, MatchesInputKind, OpenWeightsKind, ProKind, ProModel};

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

impl super::kind::sealed::Sealed for Edit {}
impl super::kind::sealed::Sealed for TextToImage {}
impl super::kind::sealed::Sealed for Multi {}
impl super::kind::sealed::Sealed for Dev {}

/// The output of an [`Edit`] (\[pro\] and \[max\] share its schema).
pub type EditOutput = types::FluxProKontextOutput;
/// The output of a [`TextToImage`] (\[pro\] and \[max\] share its schema).
pub type TextToImageOutput = types::FluxProKontextTextToImageOutput;
/// The output of a [`Multi`] (\[pro\] and \[max\] share its schema).
pub type MultiOutput = types::FluxProKontextMultiOutput;
/// The output of a [`Dev`] edit.
pub type DevOutput = types::FluxKontextDevOutput;

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

impl OpenWeightsKind for Dev {}
impl MatchesInputKind for Dev {}
