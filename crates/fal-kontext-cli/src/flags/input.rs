//! The input fields as flags: those every model takes, those of \[pro\]
//! and \[max\], those of \[dev\], `--lora`, and the models of
//! text-to-image and multi.

use clap::{Args, ValueEnum};
use fal_kontext::{Acceleration, AspectRatio, OutputFormat, ResolutionMode, SafetyTolerance};

use super::parse::{choice, lora, number};
use fal_kontext::Fields;

use crate::job::{LoraSpec, Model};

/// The range of `--seed`, as its error says it.
const SEED_RULE: &str = "must be a whole number from -9223372036854775808 to 9223372036854775807";

/// The input fields every model takes.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input fields")]
pub struct InputFlags {
    /// The same seed, prompt and input give the same image.
    #[arg(long, allow_negative_numbers = true, value_parser = number::<i64>(SEED_RULE))]
    pub seed: Option<i64>,
    /// How closely to follow the prompt, 1 to 20 (default 3.5; dev 2.5).
    #[arg(long, value_name = "SCALE", value_parser = number::<f64>("must be from 1 to 20"))]
    pub guidance_scale: Option<f64>,
    /// How many images, 1 to 4 (default 1).
    #[arg(long, value_name = "N", value_parser = number::<u8>("must be from 1 to 4"))]
    pub num_images: Option<u8>,
    /// The format of the images (default jpeg).
    #[arg(long, value_name = "FORMAT", value_parser = choice(OutputFormat::ALL, OutputFormat::as_str))]
    pub output_format: Option<OutputFormat>,
    /// Return the images inline instead of as URLs; fal keeps no history of them.
    #[arg(long)]
    pub sync: bool,
}

impl InputFlags {
    /// The fields these flags set, with those of `pro` and `dev` when the
    /// command has them; flags left out stay unset (fal's defaults).
    pub fn fields(&self, pro: Option<&ProFlags>, dev: Option<&DevFlags>) -> Fields {
        Fields {
            seed: self.seed,
            guidance_scale: self.guidance_scale,
            num_images: self.num_images,
            output_format: self.output_format,
            sync_mode: self.sync.then_some(true),
            enhance_prompt: pro.and_then(|p| p.enhance_prompt.then_some(true)),
            safety_tolerance: pro.and_then(|p| p.safety_tolerance),
            aspect_ratio: pro.and_then(|p| p.aspect_ratio),
            num_inference_steps: dev.and_then(|d| d.num_inference_steps),
            acceleration: dev.and_then(|d| d.acceleration),
            resolution_mode: dev.and_then(|d| d.resolution_mode),
            enable_safety_checker: dev.and_then(|d| d.no_safety_checker.then_some(false)),
        }
    }
}

/// The input fields of \[pro\] and \[max\].
#[derive(Debug, Args)]
#[command(next_help_heading = "Input fields")]
pub struct ProFlags {
    /// The safety filter, 1 (strictest) to 6 (default 2).
    #[arg(long, value_name = "LEVEL", value_parser = choice(SafetyTolerance::ALL, SafetyTolerance::as_str))]
    pub safety_tolerance: Option<SafetyTolerance>,
    /// The aspect ratio of the result.
    #[arg(long, value_name = "RATIO", value_parser = choice(AspectRatio::ALL, AspectRatio::as_str))]
    pub aspect_ratio: Option<AspectRatio>,
    /// Let fal rewrite the prompt for better results.
    #[arg(long)]
    pub enhance_prompt: bool,
}

/// The input fields of \[dev\] only.
#[derive(Debug, Args)]
#[command(next_help_heading = "Input fields of --model dev")]
pub struct DevFlags {
    /// Denoising steps, 10 to 50 (default 28).
    #[arg(long, value_name = "STEPS", value_parser = number::<u8>("must be from 10 to 50"))]
    pub num_inference_steps: Option<u8>,
    /// Trade quality for speed.
    #[arg(long, value_parser = choice(Acceleration::ALL, Acceleration::as_str))]
    pub acceleration: Option<Acceleration>,
    /// The size of the result (default match_input).
    #[arg(long, value_name = "MODE", value_parser = choice(ResolutionMode::ALL, ResolutionMode::as_str))]
    pub resolution_mode: Option<ResolutionMode>,
    /// Turn fal's safety checker off.
    #[arg(long)]
    pub no_safety_checker: bool,
}

/// `--lora`, repeatable.
#[derive(Debug, Args)]
#[command(next_help_heading = "LoRAs")]
pub struct LoraFlags {
    /// A LoRA: a local .safetensors file (uploaded for you) or a URL, with
    /// :SCALE from 0 to 4 (default 1); repeat for more. Any LoRA sends the
    /// request to FLUX.1 Kontext \[dev\] with LoRAs (fal-ai/flux-kontext-lora),
    /// which takes the --model dev fields.
    #[arg(
        long = "lora",
        value_name = "PATH|URL[:SCALE]",
        value_parser = lora,
        help = "A LoRA: a local .safetensors file (uploaded for you) or a URL, with :SCALE from 0 to 4 (default 1); repeat for more. Any LoRA sends the request to FLUX.1 Kontext [dev] with LoRAs (fal-ai/flux-kontext-lora), which takes the --model dev fields"
    )]
    pub loras: Vec<LoraSpec>,
}

/// `[pro]` or `[max]`: the models of text-to-image and multi.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub enum ProOrMax {
    /// FLUX.1 Kontext \[pro\].
    #[default]
    #[value(help = "FLUX.1 Kontext [pro]")]
    Pro,
    /// FLUX.1 Kontext \[max\].
    #[value(help = "FLUX.1 Kontext [max]")]
    Max,
}

impl From<ProOrMax> for Model {
    fn from(model: ProOrMax) -> Self {
        match model {
            ProOrMax::Pro => Model::Pro,
            ProOrMax::Max => Model::Max,
        }
    }
}
