//! The FLUX.1 Kontext \[dev\] endpoints with LoRAs: an edit
//! (`fal-ai/flux-kontext-lora`), text to image (`…/text-to-image`) and
//! inpainting (`…/inpaint`). Their fields and ranges are fal's
//! (<https://fal.ai/models/fal-ai/flux-kontext-lora/api>; the per-endpoint
//! typings of @fal-ai/client 1.9.5, `endpoints.ts`): guidance 0 to 20
//! (default 2.5), 10 to 50 steps (default 30), PNG by default, and any
//! number of LoRAs, each with a scale from 0 to 4 (default 1).

use std::path::PathBuf;

use fal_kontext_api::types;

use crate::Client;
use crate::endpoints;
use crate::error::Result;
use crate::image_input::ImageInput;
use crate::request::{
    Fields, FileSource, Input, Kind, MatchesInputKind, OpenWeightsKind, Request, built, check,
    num_images,
};

/// Where a LoRA's weights are: a URL fal fetches, or a local `.safetensors`
/// file the SDK uploads.
#[derive(Clone, Debug, PartialEq)]
pub enum LoraPath {
    /// A URL (such as a trained LoRA's `diffusers_lora_file.url`), sent as it is.
    Url(String),
    /// A local `.safetensors` file, uploaded to fal's storage.
    File(PathBuf),
}

impl From<&str> for LoraPath {
    fn from(text: &str) -> Self {
        if text.starts_with("http://") || text.starts_with("https://") {
            Self::Url(text.to_string())
        } else {
            Self::File(PathBuf::from(text))
        }
    }
}

impl From<String> for LoraPath {
    fn from(text: String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<PathBuf> for LoraPath {
    fn from(path: PathBuf) -> Self {
        Self::File(path)
    }
}

impl From<&std::path::Path> for LoraPath {
    fn from(path: &std::path::Path) -> Self {
        Self::File(path.to_path_buf())
    }
}

/// One LoRA of a request, merged into the model with its scale.
#[derive(Clone, Debug, PartialEq)]
pub struct Lora {
    /// Its weights.
    pub path: LoraPath,
    /// Its multiplier, 0 to 4 (fal's default 1).
    pub scale: f64,
}

/// The highest LoRA scale fal takes (`LoraWeight.scale`, `maximum: 4`).
pub const MAX_LORA_SCALE: f64 = 4.0;

/// An edit of one image with LoRAs (`fal-ai/flux-kontext-lora`).
#[derive(Clone, Debug)]
pub struct LoraEdit {
    image: ImageInput,
    loras: Vec<Lora>,
}

/// An image from text with LoRAs (`fal-ai/flux-kontext-lora/text-to-image`).
#[derive(Clone, Debug)]
pub struct LoraTextToImage {
    loras: Vec<Lora>,
    image_size: Option<ImageSize>,
}

/// A masked region of an image repainted after a reference image
/// (`fal-ai/flux-kontext-lora/inpaint`).
#[derive(Clone, Debug)]
pub struct Inpaint {
    image: ImageInput,
    mask: ImageInput,
    reference: ImageInput,
    loras: Vec<Lora>,
    strength: Option<f64>,
}

impl crate::request::sealed::Sealed for LoraEdit {}
impl crate::request::sealed::Sealed for LoraTextToImage {}
impl crate::request::sealed::Sealed for Inpaint {}

/// The output size of a [`LoraTextToImage`]: one of fal's named sizes, or
/// width and height in pixels (at most 14142 each; multiples of 16 are
/// safest, whether fal rounds others is not documented).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageSize {
    /// 1024×1024.
    SquareHd,
    /// 512×512.
    Square,
    /// 768×1024.
    Portrait4x3,
    /// 576×1024.
    Portrait16x9,
    /// 1024×768 (fal's default).
    Landscape4x3,
    /// 1024×576.
    Landscape16x9,
    /// Width and height in pixels.
    Pixels {
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
}

/// The largest side fal takes (`ImageSize.width`/`height`, `maximum: 14142`).
const MAX_SIDE: u32 = 14142;

impl From<ImageSize> for types::ImageSizeChoice {
    fn from(size: ImageSize) -> Self {
        use types::ImageSizePreset as P;
        let preset = match size {
            ImageSize::SquareHd => P::SquareHd,
            ImageSize::Square => P::Square,
            ImageSize::Portrait4x3 => P::Portrait43,
            ImageSize::Portrait16x9 => P::Portrait169,
            ImageSize::Landscape4x3 => P::Landscape43,
            ImageSize::Landscape16x9 => P::Landscape169,
            ImageSize::Pixels { width, height } => {
                return types::ImageSizeChoice::Size(types::ImageSize {
                    width: Some(width.into()),
                    height: Some(height.into()),
                });
            }
        };
        types::ImageSizeChoice::Preset(preset)
    }
}

/// The output of a [`LoraEdit`].
pub type LoraEditOutput = types::FluxKontextLoraOutput;
/// The output of a [`LoraTextToImage`].
pub type LoraTextToImageOutput = types::FluxKontextLoraTextToImageOutput;
/// The output of an [`Inpaint`].
pub type InpaintOutput = types::FluxKontextLoraInpaintOutput;

/// Kinds that take LoRAs.
pub trait LoraKind: OpenWeightsKind {
    #[doc(hidden)]
    fn loras_mut(&mut self) -> &mut Vec<Lora>;
}

impl OpenWeightsKind for LoraEdit {}
impl OpenWeightsKind for LoraTextToImage {}
impl OpenWeightsKind for Inpaint {}
impl MatchesInputKind for LoraEdit {}

impl LoraKind for LoraEdit {
    fn loras_mut(&mut self) -> &mut Vec<Lora> {
        &mut self.loras
    }
}
impl LoraKind for LoraTextToImage {
    fn loras_mut(&mut self) -> &mut Vec<Lora> {
        &mut self.loras
    }
}
impl LoraKind for Inpaint {
    fn loras_mut(&mut self) -> &mut Vec<Lora> {
        &mut self.loras
    }
}

/// The LoRAs' local files, to upload.
fn lora_files(loras: &[Lora]) -> Vec<(&'static str, FileSource<'_>)> {
    loras
        .iter()
        .filter_map(|lora| match &lora.path {
            LoraPath::File(path) => Some(("loras", FileSource::Safetensors(path))),
            LoraPath::Url(_) => None,
        })
        .collect()
}

/// Every scale in range and every path given.
fn check_loras(loras: &[Lora]) -> Result<()> {
    for (index, lora) in loras.iter().enumerate() {
        let which = |value: &dyn std::fmt::Display| format!("{value} (LoRA {})", index + 1);
        check(
            lora.scale.is_finite() && (0.0..=MAX_LORA_SCALE).contains(&lora.scale),
            "loras.scale",
            which(&lora.scale),
            "must be from 0 to 4",
        )?;
        let given = match &lora.path {
            LoraPath::Url(url) => !url.trim().is_empty(),
            LoraPath::File(path) => !path.as_os_str().is_empty(),
        };
        check(
            given,
            "loras.path",
            which(&""),
            "must be a URL or a local .safetensors file",
        )?;
    }
    Ok(())
}

/// The `loras` to send: URLs as given, local files by their upload's URL
/// (`uploaded`, in order).
fn lora_weights(loras: &[Lora], uploaded: &[String]) -> Vec<types::LoraWeight> {
    let mut uploaded = uploaded.iter();
    loras
        .iter()
        .map(|lora| types::LoraWeight {
            path: match &lora.path {
                LoraPath::Url(url) => url.clone(),
                LoraPath::File(_) => uploaded.next().cloned().unwrap_or_default(),
            },
            scale: Some(lora.scale),
        })
        .collect()
}

/// The open-weights fields every LoRA endpoint shares, set on its
/// generated builder.
macro_rules! lora_input {
    ($ty:ident, $prompt:expr, $fields:expr, $loras:expr $(, $setter:ident($value:expr))* $(,)?) => {
        built(
            types::$ty::builder()
                .prompt($prompt.to_string())
                .seed($fields.seed)
                .guidance_scale($fields.guidance_scale)
                .num_images(num_images($fields))
                .num_inference_steps($fields.num_inference_steps.map(i64::from))
                .output_format($fields.output_format.map(types::OutputFormat::from))
                .sync_mode($fields.sync_mode)
                .enable_safety_checker($fields.enable_safety_checker)
                .acceleration($fields.acceleration.map(types::Acceleration::from))
                .loras($loras)
                $(.$setter($value))*,
        )
    };
}

/// LoRA endpoints take guidance from 0
/// (<https://fal.ai/models/fal-ai/flux-kontext-lora/llms.txt>: 0 to 20).
const GUIDANCE: (f64, f64) = (0.0, 20.0);

impl Kind for LoraEdit {
    type Output = LoraEditOutput;
    fn endpoint(&self) -> &'static str {
        endpoints::FLUX_KONTEXT_LORA
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![("image_url", &self.image)]
    }
    fn files(&self) -> Vec<(&'static str, FileSource<'_>)> {
        lora_files(&self.loras)
    }
    fn guidance_range(&self) -> (f64, f64) {
        GUIDANCE
    }
    fn check(&self, _: &Fields) -> Result<()> {
        check_loras(&self.loras)
    }
    fn input(&self, prompt: &str, fields: &Fields, urls: Vec<String>) -> Result<Input> {
        let (image, uploaded) = urls.split_at(urls.len().min(1));
        lora_input!(
            FluxKontextLoraInput,
            prompt,
            fields,
            lora_weights(&self.loras, uploaded),
            image_url(image.first().cloned().unwrap_or_default()),
            resolution_mode(fields.resolution_mode.map(types::ResolutionMode::from)),
        )
        .map(Input::FluxKontextLora)
    }
}

impl Kind for LoraTextToImage {
    type Output = LoraTextToImageOutput;
    fn endpoint(&self) -> &'static str {
        endpoints::FLUX_KONTEXT_LORA_TEXT_TO_IMAGE
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![]
    }
    fn files(&self) -> Vec<(&'static str, FileSource<'_>)> {
        lora_files(&self.loras)
    }
    fn guidance_range(&self) -> (f64, f64) {
        GUIDANCE
    }
    fn check(&self, _: &Fields) -> Result<()> {
        if let Some(ImageSize::Pixels { width, height }) = self.image_size {
            for (field, side) in [("image_size.width", width), ("image_size.height", height)] {
                check(
                    (1..=MAX_SIDE).contains(&side),
                    field,
                    side,
                    "must be from 1 to 14142 pixels",
                )?;
            }
        }
        check_loras(&self.loras)
    }
    fn input(&self, prompt: &str, fields: &Fields, urls: Vec<String>) -> Result<Input> {
        lora_input!(
            FluxKontextLoraTextToImageInput,
            prompt,
            fields,
            lora_weights(&self.loras, &urls),
            image_size(self.image_size.map(types::ImageSizeChoice::from)),
        )
        .map(Input::FluxKontextLoraTextToImage)
    }
}

impl Kind for Inpaint {
    type Output = InpaintOutput;
    fn endpoint(&self) -> &'static str {
        endpoints::FLUX_KONTEXT_LORA_INPAINT
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![
            ("image_url", &self.image),
            ("mask_url", &self.mask),
            ("reference_image_url", &self.reference),
        ]
    }
    fn files(&self) -> Vec<(&'static str, FileSource<'_>)> {
        lora_files(&self.loras)
    }
    fn guidance_range(&self) -> (f64, f64) {
        GUIDANCE
    }
    fn check(&self, _: &Fields) -> Result<()> {
        if let Some(strength) = self.strength {
            check(
                strength.is_finite() && (0.01..=1.0).contains(&strength),
                "strength",
                strength,
                "must be from 0.01 to 1",
            )?;
        }
        check_loras(&self.loras)
    }
    fn input(&self, prompt: &str, fields: &Fields, urls: Vec<String>) -> Result<Input> {
        let (images, uploaded) = urls.split_at(urls.len().min(3));
        let image = |i: usize| images.get(i).cloned().unwrap_or_default();
        lora_input!(
            FluxKontextLoraInpaintInput,
            prompt,
            fields,
            lora_weights(&self.loras, uploaded),
            image_url(image(0)),
            mask_url(image(1)),
            reference_image_url(image(2)),
            strength(self.strength),
        )
        .map(Input::FluxKontextLoraInpaint)
    }
}

impl Client {
    /// Edits an image with a prompt and LoRAs (`fal-ai/flux-kontext-lora`);
    /// add them with [`lora`](Request::lora).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client
    ///     .lora_edit("Make it a watercolour", "street.jpg")
    ///     .lora("lora/style.safetensors", 0.8)
    ///     .run()
    ///     .await?;
    /// client.download(&done.output, "out").await?;
    /// # Ok(()) }
    /// ```
    pub fn lora_edit(
        &self,
        prompt: impl Into<String>,
        image: impl Into<ImageInput>,
    ) -> Request<LoraEdit> {
        self.request(
            prompt,
            LoraEdit {
                image: image.into(),
                loras: Vec::new(),
            },
        )
    }

    /// Makes an image from a prompt with LoRAs
    /// (`fal-ai/flux-kontext-lora/text-to-image`).
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client
    ///     .lora_text_to_image("A lighthouse at dusk")
    ///     .lora("https://example.com/style.safetensors", 1.0)
    ///     .image_size(fal_kontext::ImageSize::SquareHd)
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn lora_text_to_image(&self, prompt: impl Into<String>) -> Request<LoraTextToImage> {
        self.request(
            prompt,
            LoraTextToImage {
                loras: Vec::new(),
                image_size: None,
            },
        )
    }

    /// Repaints the region of `image` that `mask` marks, guided by
    /// `reference` (`fal-ai/flux-kontext-lora/inpaint`). fal does not
    /// document which colour of the mask marks the region; the emulator
    /// repaints where the mask is light (white), the common convention.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client
    ///     .inpaint("Put this sofa there", "room.png", "mask.png", "sofa.png")
    ///     .strength(0.9)
    ///     .run()
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub fn inpaint(
        &self,
        prompt: impl Into<String>,
        image: impl Into<ImageInput>,
        mask: impl Into<ImageInput>,
        reference: impl Into<ImageInput>,
    ) -> Request<Inpaint> {
        self.request(
            prompt,
            Inpaint {
                image: image.into(),
                mask: mask.into(),
                reference: reference.into(),
                loras: Vec::new(),
                strength: None,
            },
        )
    }
}

impl<K: LoraKind> Request<K> {
    /// Adds a LoRA (repeatable; fal merges all of them): a URL sent as it
    /// is, or a local `.safetensors` file, uploaded. `scale` is from 0 to 4
    /// (1 is the LoRA as trained); checked when the request is sent.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client
    ///     .lora_edit("Make it a watercolour", "street.jpg")
    ///     .lora("https://v3.fal.media/files/style.safetensors", 1.0)
    ///     .lora("lora/mine.safetensors", 0.8);
    /// assert_eq!(request.endpoint(), "fal-ai/flux-kontext-lora");
    /// ```
    pub fn lora(mut self, path: impl Into<LoraPath>, scale: f64) -> Self {
        self.kind.loras_mut().push(Lora {
            path: path.into(),
            scale,
        });
        self
    }
}

impl Request<LoraTextToImage> {
    /// The output size (fal's default: [`ImageSize::Landscape4x3`]).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client
    ///     .lora_text_to_image("A red kite")
    ///     .image_size(fal_kontext::ImageSize::Pixels { width: 1024, height: 512 });
    /// ```
    pub fn image_size(mut self, size: ImageSize) -> Self {
        self.kind.image_size = Some(size);
        self
    }
}

impl Request<Inpaint> {
    /// How far the masked region may depart from the original, 0.01 to 1
    /// (fal's default 0.88; fal says higher works better for this model).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.inpaint("A sofa", "room.png", "mask.png", "sofa.png").strength(0.95);
    /// ```
    pub fn strength(mut self, strength: f64) -> Self {
        self.kind.strength = Some(strength);
        self
    }
}
