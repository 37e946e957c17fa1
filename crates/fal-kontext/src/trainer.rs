//! Training a Kontext LoRA from before/after pairs
//! (`fal-ai/flux-kontext-trainer`,
//! <https://fal.ai/models/fal-ai/flux-kontext-trainer/api>): the request,
//! its typed output, and a download of the trained weights and their
//! config. The pairs' layout is checked (and a directory zipped) in
//! [`crate::pairs`].

use std::path::{Path, PathBuf};

use fal_kontext_api::types;

use crate::Client;
use crate::endpoints;
use crate::error::Result;
use crate::image_input::ImageInput;
use crate::request::{Fields, FileSource, Input, Kind, Request, built, check};

/// The pairs to train on: a URL of a zip fal fetches, or a local zip or
/// directory of pairs, which the SDK checks (and zips) and uploads.
#[derive(Clone, Debug, PartialEq)]
pub enum TrainingData {
    /// A zip's URL, sent as it is.
    Url(String),
    /// A local zip, or a directory of pairs.
    Local(PathBuf),
}

impl From<&str> for TrainingData {
    fn from(text: &str) -> Self {
        if text.starts_with("http://") || text.starts_with("https://") {
            Self::Url(text.to_string())
        } else {
            Self::Local(PathBuf::from(text))
        }
    }
}

impl From<String> for TrainingData {
    fn from(text: String) -> Self {
        Self::from(text.as_str())
    }
}

impl From<PathBuf> for TrainingData {
    fn from(path: PathBuf) -> Self {
        Self::Local(path)
    }
}

impl From<&Path> for TrainingData {
    fn from(path: &Path) -> Self {
        Self::Local(path.to_path_buf())
    }
}

/// How the trained weights name their keys (`output_lora_format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LoraFormat {
    /// For fal's endpoints and diffusers loaders (fal's default).
    #[default]
    Fal,
    /// For ComfyUI.
    Comfy,
}

impl From<LoraFormat> for types::OutputLoraFormat {
    fn from(format: LoraFormat) -> Self {
        match format {
            LoraFormat::Fal => Self::Fal,
            LoraFormat::Comfy => Self::Comfy,
        }
    }
}

/// A training of a Kontext LoRA (`fal-ai/flux-kontext-trainer`).
#[derive(Clone, Debug)]
pub struct Train {
    data: TrainingData,
    steps: Option<u32>,
    learning_rate: Option<f64>,
    default_caption: Option<String>,
    format: Option<LoraFormat>,
}

impl crate::request::sealed::Sealed for Train {}

/// The output of a [`Train`]: `diffusers_lora_file` is the trained
/// weights, whose `url` the LoRA endpoints take as a LoRA's path;
/// `config_file`, the training's configuration.
pub type TrainOutput = types::FluxKontextTrainerOutput;

/// Training steps fal takes (`steps`: 2 to 10000, default 1000).
const STEPS: std::ops::RangeInclusive<u32> = 2..=10_000;

impl Kind for Train {
    type Output = TrainOutput;
    fn endpoint(&self) -> &'static str {
        endpoints::FLUX_KONTEXT_TRAINER
    }
    fn images(&self) -> Vec<(&'static str, &ImageInput)> {
        vec![]
    }
    fn files(&self) -> Vec<(&'static str, FileSource<'_>)> {
        match &self.data {
            TrainingData::Local(path) => vec![(
                "image_data_url",
                FileSource::Pairs {
                    path,
                    default_caption: self.default_caption.as_deref(),
                },
            )],
            TrainingData::Url(_) => vec![],
        }
    }
    fn check(&self, fields: &Fields) -> Result<()> {
        // The image fields a request has for every kind are not the
        // trainer's: one set would be silently dropped.
        let image_fields = [
            ("seed", fields.seed.is_some()),
            ("guidance_scale", fields.guidance_scale.is_some()),
            ("num_images", fields.num_images.is_some()),
            ("output_format", fields.output_format.is_some()),
            ("sync_mode", fields.sync_mode.is_some()),
        ];
        for (field, set) in image_fields {
            check(
                !set,
                field,
                "set",
                "is not a field of fal-ai/flux-kontext-trainer (it takes image_data_url, steps, \
                 learning_rate, default_caption, output_lora_format)",
            )?;
        }
        if let Some(steps) = self.steps {
            check(
                STEPS.contains(&steps),
                "steps",
                steps,
                "must be from 2 to 10000",
            )?;
        }
        if let Some(rate) = self.learning_rate {
            check(
                rate.is_finite() && rate > 0.0,
                "learning_rate",
                rate,
                "must be a positive number",
            )?;
        }
        if let Some(caption) = &self.default_caption {
            check(
                !caption.trim().is_empty(),
                "default_caption",
                "",
                "must not be empty",
            )?;
        }
        if let TrainingData::Url(url) = &self.data {
            check(
                reqwest::Url::parse(url).is_ok(),
                "image_data_url",
                url,
                "must be a URL of a zip, or a local zip or directory of pairs",
            )?;
        }
        Ok(())
    }
    fn input(&self, _: &str, _: &Fields, urls: Vec<String>) -> Result<Input> {
        let data = match &self.data {
            TrainingData::Url(url) => url.clone(),
            TrainingData::Local(_) => urls.into_iter().next().unwrap_or_default(),
        };
        built(
            types::FluxKontextTrainerInput::builder()
                .image_data_url(data)
                .steps(self.steps.map(i64::from))
                .learning_rate(self.learning_rate)
                .default_caption(self.default_caption.clone())
                .output_lora_format(self.format.map(types::OutputLoraFormat::from)),
        )
        .map(Input::FluxKontextTrainer)
    }
}

impl Client {
    /// Trains a Kontext LoRA on before/after pairs
    /// (`fal-ai/flux-kontext-trainer`): a zip's URL, or a local zip or
    /// directory of `ROOT_start.EXT`, `ROOT_end.EXT` and optional
    /// `ROOT.txt` files. Local pairs are checked before anything is sent
    /// (each `_start` has its `_end`, each pair a caption or a default
    /// caption; the error names the file), a directory is zipped to a
    /// temporary file, and the zip is uploaded. Training takes minutes: give
    /// the request a [`timeout`](Request::timeout) to match.
    ///
    /// ```no_run
    /// # async fn demo() -> fal_kontext::Result<()> {
    /// let client = fal_kontext::Client::from_env()?;
    /// let done = client
    ///     .train("examples/pairs")
    ///     .steps(1000)
    ///     .default_caption("Make it a watercolour")
    ///     .timeout(std::time::Duration::from_secs(3600))
    ///     .run()
    ///     .await?;
    /// let saved = client.download_lora(&done.output, "lora", &done.request_id).await?;
    /// println!("{}", saved.weights.display());
    /// # Ok(()) }
    /// ```
    pub fn train(&self, pairs: impl Into<TrainingData>) -> Request<Train> {
        self.request(
            "",
            Train {
                data: pairs.into(),
                steps: None,
                learning_rate: None,
                default_caption: None,
                format: None,
            },
        )
    }
}

impl Request<Train> {
    /// Training steps, 2 to 10000 (fal's default 1000; the price scales with them).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.train("pairs.zip").steps(500);
    /// ```
    pub fn steps(mut self, steps: u32) -> Self {
        self.kind.steps = Some(steps);
        self
    }
    /// The optimiser's learning rate (fal's default 0.0001).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.train("pairs.zip").learning_rate(0.0002);
    /// ```
    pub fn learning_rate(mut self, rate: f64) -> Self {
        self.kind.learning_rate = Some(rate);
        self
    }
    /// The edit instruction of pairs without a `ROOT.txt`.
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.train("pairs").default_caption("Make it a watercolour");
    /// ```
    pub fn default_caption(mut self, caption: impl Into<String>) -> Self {
        self.kind.default_caption = Some(caption.into());
        self
    }
    /// How the weights name their keys (fal's default [`LoraFormat::Fal`],
    /// which fal's LoRA endpoints read).
    ///
    /// ```
    /// # let client = fal_kontext::Client::builder().key("id:secret").build().unwrap();
    /// let request = client.train("pairs").lora_format(fal_kontext::LoraFormat::Comfy);
    /// ```
    pub fn lora_format(mut self, format: LoraFormat) -> Self {
        self.kind.format = Some(format);
        self
    }
}

/// A trained LoRA saved to disk by [`Client::download_lora`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SavedLora {
    /// The weights, `<stem>-<n>.safetensors`.
    pub weights: PathBuf,
    /// The training's config, `<stem>-<n>.json`, when fal gave one.
    pub config: Option<PathBuf>,
}

impl Client {
    /// Saves a training's weights and config into `dir` (created if
    /// missing) as `<stem>-<n>.safetensors` and `<stem>-<n>.json`, the first
    /// free `n`; existing files are never overwritten. `stem` must pass
    /// [`check_file_stem`](crate::check_file_stem) (fal's request ids do).
    /// All or nothing, as [`download_as`](Self::download_as): no partial
    /// file is left behind; URLs are fetched without the API key.
    ///
    /// ```no_run
    /// # async fn demo(client: fal_kontext::Client, done: fal_kontext::Completed<fal_kontext::TrainOutput>) -> fal_kontext::Result<()> {
    /// let saved = client.download_lora(&done.output, "lora", &done.request_id).await?;
    /// # Ok(()) }
    /// ```
    pub async fn download_lora(
        &self,
        output: &TrainOutput,
        dir: impl AsRef<Path>,
        stem: &str,
    ) -> Result<SavedLora> {
        crate::check_file_stem(stem)?;
        let dir = dir.as_ref();
        crate::output::create_dir(dir).await?;
        let max = crate::output::MAX_LORA_BYTES;
        let weights = self
            .fetch_to_temp(&output.diffusers_lora_file.url, dir, max)
            .await?
            .0;
        let config = match &output.config_file {
            Some(file) => Some(self.fetch_to_temp(&file.url, dir, max).await?.0),
            None => None,
        };
        let weights = crate::output::persist((weights, "safetensors"), dir, stem, 1)?;
        let config = match config {
            Some(config) => match crate::output::persist((config, "json"), dir, stem, 1) {
                Ok(path) => Some(path),
                Err(error) => {
                    let _ = std::fs::remove_file(&weights);
                    return Err(error);
                }
            },
            None => None,
        };
        Ok(SavedLora { weights, config })
    }
}
