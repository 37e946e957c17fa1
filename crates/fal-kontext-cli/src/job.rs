//! What to ask fal for, whether it comes from flags or from a batch line, and
//! the SDK request that asks for it. The SDK checks every value; this module
//! only refuses fields the chosen model does not have.

use std::str::FromStr;
use std::time::Duration;

use fal_kontext::{Client, Error, Fields, ImageInput, Images, Kind, LoraKind, Request};
use serde::{Deserialize, Deserializer};

/// Which model edits (`--model`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Model {
    /// FLUX.1 Kontext \[pro\].
    #[default]
    #[value(help = "FLUX.1 Kontext [pro]")]
    Pro,
    /// FLUX.1 Kontext \[max\], the larger model.
    #[value(help = "FLUX.1 Kontext [max], the larger model")]
    Max,
    /// FLUX.1 Kontext \[dev\], the open-weights model (edits of one image only).
    #[value(help = "FLUX.1 Kontext [dev], the open-weights model (edits of one image only)")]
    Dev,
}

/// The endpoint kind: it follows from the images given.
#[derive(Clone, Debug)]
pub enum Task {
    /// No image: text to image.
    TextToImage,
    /// One image to edit.
    Edit(ImageInput),
    /// Several reference images.
    Multi(Vec<ImageInput>),
    /// Repaint a masked region (boxed: a job stays small in a batch's queue).
    Inpaint(Box<Inpainting>),
}

/// The images of an inpaint.
#[derive(Clone, Debug)]
pub struct Inpainting {
    /// The image to repaint.
    pub image: ImageInput,
    /// Where (white = repaint, in the emulator; fal does not document it).
    pub mask: ImageInput,
    /// What to paint there.
    pub reference: ImageInput,
    /// `strength`.
    pub strength: Option<f64>,
}

/// One LoRA: `PATH_OR_URL[:SCALE]` on the command line, or in a batch line
/// `"PATH_OR_URL[:SCALE]"` or `{"path": …, "scale": …}`. The scale is 1 when
/// not given; the SDK checks its range (0 to 4).
#[derive(Clone, Debug, PartialEq)]
pub struct LoraSpec {
    /// A local `.safetensors` file or a URL.
    pub path: String,
    /// Its scale.
    pub scale: f64,
}

impl FromStr for LoraSpec {
    type Err = String;

    /// The scale is what follows the last `:`, when that parses as a number:
    /// a URL (`https://…`, `https://host:8080/…`) and a Windows path (`C:\…`)
    /// hold colons that are no scale.
    fn from_str(text: &str) -> Result<Self, String> {
        let whole = || LoraSpec {
            path: text.to_owned(),
            scale: 1.0,
        };
        let spec = match text.rsplit_once(':') {
            Some((path, scale)) if !path.is_empty() && !is_url_origin(path) => {
                match scale.trim().parse::<f64>() {
                    Ok(scale) => LoraSpec {
                        path: path.to_owned(),
                        scale,
                    },
                    Err(_) => whole(),
                }
            }
            _ => whole(),
        };
        if spec.path.trim().is_empty() {
            return Err(
                "must be a local .safetensors file or a URL, with :SCALE (0 to 4) or not".into(),
            );
        }
        Ok(spec)
    }
}

/// `https://host` (a URL with no path yet): what follows its last `:` is a
/// port, not a scale.
fn is_url_origin(text: &str) -> bool {
    text.split_once("://")
        .is_some_and(|(_, rest)| !rest.contains('/'))
}

impl<'de> Deserialize<'de> for LoraSpec {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Line {
            Text(String),
            Object {
                path: String,
                #[serde(default)]
                scale: Option<f64>,
            },
        }
        match Line::deserialize(deserializer)? {
            Line::Text(text) => text.parse().map_err(serde::de::Error::custom),
            Line::Object { path, scale } => Ok(LoraSpec {
                path,
                scale: scale.unwrap_or(1.0),
            }),
        }
    }
}

/// One request to make.
#[derive(Clone, Debug)]
pub struct Job {
    /// The prompt.
    pub prompt: String,
    /// The endpoint kind and its images.
    pub task: Task,
    /// The model.
    pub model: Model,
    /// The optional input fields, as the SDK takes them.
    pub fields: Fields,
    /// `loras`: any LoRA selects the Kontext LoRA endpoints. (A boxed
    /// slice, not a `Vec`: a job stays small in a batch's queue.)
    pub loras: Box<[LoraSpec]>,
    /// `fal_webhook` and the other submit options.
    pub queue: QueueSettings,
    /// How long to wait before cancelling.
    pub timeout: Option<Duration>,
}

/// Where fal reports, and the submit options fal documents, as a job
/// carries them (from the flags of the Queue heading, or a batch's own).
#[derive(Clone, Debug, Default)]
pub struct QueueSettings {
    /// `--webhook`: the URL fal calls with the result.
    pub webhook: Option<String>,
    /// `--cdn-lifetime`, in seconds.
    pub cdn_lifetime: Option<u64>,
    /// `--no-store-io`.
    pub no_store_io: bool,
    /// `--no-retry`.
    pub no_retry: bool,
    /// `--max-queue-length`.
    pub max_queue_length: Option<u32>,
    /// `--header NAME:VALUE`, each.
    pub headers: Vec<(String, String)>,
}

/// Something to do with a built request, whatever its endpoint kind (a
/// generic method, which a closure cannot have).
pub trait Runner {
    /// What running gives.
    type Output;
    /// Sends `request` and does the rest.
    async fn run<K: Kind>(self, request: Request<K>) -> Self::Output
    where
        K::Output: Images + serde::Serialize;
}

/// The submit options of `q` (`--webhook`, `--cdn-lifetime`, …) on `request`.
pub fn queue_options<K: Kind>(mut request: Request<K>, q: &QueueSettings) -> Request<K> {
    if let Some(url) = &q.webhook {
        request = request.webhook(url);
    }
    if let Some(secs) = q.cdn_lifetime {
        request = request.cdn_lifetime(Duration::from_secs(secs));
    }
    if q.no_store_io {
        request = request.store_io(false);
    }
    if q.no_retry {
        request = request.no_retry(true);
    }
    if let Some(n) = q.max_queue_length {
        request = request.max_queue_length(n);
    }
    for (name, value) in &q.headers {
        request = request.header(name, value);
    }
    request
}

/// A field the chosen model does not have.
fn unavailable(field: &'static str, value: impl std::fmt::Display, model: &str) -> Error {
    Error::InvalidInput {
        field,
        value: value.to_string(),
        rule: format!("not available with {model}"),
    }
}

impl Job {
    /// The endpoint the job is submitted to; `None` for one that fails
    /// before anything is sent (\[dev\] edits one image only).
    pub fn endpoint(&self) -> Option<&'static str> {
        use fal_kontext::endpoints::*;
        let lora = !self.loras.is_empty();
        Some(match (self.model, &self.task) {
            (_, Task::Inpaint(_)) => FLUX_KONTEXT_LORA_INPAINT,
            (Model::Max, _) | (_, Task::Multi(_)) if lora => return None,
            (_, Task::Edit(_)) if lora => FLUX_KONTEXT_LORA,
            (_, Task::TextToImage) if lora => FLUX_KONTEXT_LORA_TEXT_TO_IMAGE,
            (Model::Pro, Task::Edit(_)) => FLUX_PRO_KONTEXT,
            (Model::Pro, Task::TextToImage) => FLUX_PRO_KONTEXT_TEXT_TO_IMAGE,
            (Model::Pro, Task::Multi(_)) => FLUX_PRO_KONTEXT_MULTI,
            (Model::Max, Task::Edit(_)) => FLUX_PRO_KONTEXT_MAX,
            (Model::Max, Task::TextToImage) => FLUX_PRO_KONTEXT_MAX_TEXT_TO_IMAGE,
            (Model::Max, Task::Multi(_)) => FLUX_PRO_KONTEXT_MAX_MULTI,
            (Model::Dev, Task::Edit(_)) => FLUX_KONTEXT_DEV,
            (Model::Dev, _) => return None,
        })
    }

    /// How many images the job asks for: `num_images`, else fal's default, 1.
    pub fn images(&self) -> u64 {
        u64::from(self.fields.num_images.unwrap_or(1))
    }

    /// The task a list of images stands for: none, one or several.
    pub fn task_for(images: &[String]) -> Task {
        match images {
            [] => Task::TextToImage,
            [one] => Task::Edit(ImageInput::from(one.as_str())),
            many => Task::Multi(many.iter().map(|i| ImageInput::from(i.as_str())).collect()),
        }
    }

    /// Builds the SDK request and hands it to `runner`. Fails, sending
    /// nothing, when a field does not exist for the model.
    pub async fn run<R: Runner>(self, client: &Client, runner: R) -> Result<R::Output, Error> {
        let prompt = self.prompt.clone();
        if let Task::Inpaint(images) = self.task.clone() {
            let Inpainting {
                image,
                mask,
                reference,
                strength,
            } = *images;
            let mut request =
                self.lora(client.inpaint(prompt, image, mask, reference), "inpaint")?;
            if let Some(strength) = strength {
                request = request.strength(strength);
            }
            return Ok(runner.run(self.common(request)).await);
        }
        if !self.loras.is_empty() {
            if self.model == Model::Max {
                return Err(unavailable(
                    "model",
                    "max",
                    "--lora: the LoRA endpoints run FLUX.1 Kontext [dev]",
                ));
            }
            return Ok(match self.task.clone() {
                Task::Edit(image) => {
                    let request = self.lora(client.lora_edit(prompt, image), "")?;
                    runner.run(self.common(request)).await
                }
                Task::TextToImage => {
                    let request = self.lora(client.lora_text_to_image(prompt), "text-to-image")?;
                    runner.run(self.common(request)).await
                }
                Task::Multi(_) | Task::Inpaint(_) => {
                    return Err(unavailable(
                        "image_urls",
                        "several images",
                        "--lora: a LoRA edit takes one image",
                    ));
                }
            });
        }
        let model = match self.model {
            Model::Pro => fal_kontext::ProModel::Pro,
            Model::Max => fal_kontext::ProModel::Max,
            Model::Dev => {
                let Task::Edit(image) = self.task.clone() else {
                    return Err(unavailable(
                        "model",
                        "dev",
                        "text-to-image or multi: [dev] edits one image",
                    ));
                };
                self.refuse_pro_fields("--model dev")?;
                let request = client.dev(prompt, image);
                return Ok(runner.run(self.common(request)).await);
            }
        };
        self.refuse_dev_fields()?;
        Ok(match self.task.clone() {
            Task::TextToImage => {
                let request = client.text_to_image(prompt).model(model);
                runner.run(self.common(request)).await
            }
            Task::Edit(image) => {
                let request = client.edit(prompt, image).model(model);
                runner.run(self.common(request)).await
            }
            Task::Multi(images) => {
                let request = client.multi(prompt, images).model(model);
                runner.run(self.common(request)).await
            }
            Task::Inpaint(_) => unreachable!("inpaint was sent above"),
        })
    }

    /// The LoRAs and the \[dev\] fields of a LoRA endpoint (`what`: which
    /// one, when `resolution_mode` is not its field); those of \[pro\] and
    /// \[max\] only are refused.
    fn lora<K: LoraKind>(&self, mut request: Request<K>, what: &str) -> Result<Request<K>, Error> {
        let f = &self.fields;
        if !what.is_empty()
            && let Some(mode) = f.resolution_mode
        {
            return Err(unavailable("resolution_mode", mode, what));
        }
        self.refuse_pro_fields("the LoRA endpoints ([dev] with LoRAs)")?;
        for lora in &self.loras {
            request = request.lora(lora.path.as_str(), lora.scale);
        }
        Ok(request)
    }

    /// The input fields (those the endpoint lacks were refused before,
    /// naming the flag's model), the queue options and the deadline.
    fn common<K: Kind>(&self, request: Request<K>) -> Request<K> {
        let mut request = queue_options(request.fields(self.fields.clone()), &self.queue);
        if let Some(timeout) = self.timeout {
            request = request.timeout(timeout);
        }
        request
    }

    /// Refuses \[dev\]'s own fields, for \[pro\] and \[max\].
    fn refuse_dev_fields(&self) -> Result<(), Error> {
        let f = &self.fields;
        let model = "--model pro or max (they are [dev]'s)";
        if let Some(steps) = f.num_inference_steps {
            return Err(unavailable("num_inference_steps", steps, model));
        }
        if let Some(acceleration) = f.acceleration {
            return Err(unavailable("acceleration", acceleration, model));
        }
        if let Some(mode) = f.resolution_mode {
            return Err(unavailable("resolution_mode", mode, model));
        }
        if let Some(on) = f.enable_safety_checker {
            return Err(unavailable("enable_safety_checker", on, model));
        }
        Ok(())
    }

    /// Refuses the fields of \[pro\] and \[max\] only, for an open-weights
    /// endpoint (\[dev\], the LoRA ones), naming `model`.
    fn refuse_pro_fields(&self, model: &str) -> Result<(), Error> {
        let f = &self.fields;
        if let Some(tolerance) = f.safety_tolerance {
            return Err(unavailable("safety_tolerance", tolerance, model));
        }
        if let Some(ratio) = f.aspect_ratio {
            return Err(unavailable("aspect_ratio", ratio, model));
        }
        if let Some(on) = f.enhance_prompt {
            return Err(unavailable("enhance_prompt", on, model));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use fal_kontext::{AspectRatio, SafetyTolerance};

    #[test]
    fn batch_fields_use_the_sdk_values_and_refuse_unknown_names() {
        let fields: Fields =
            serde_json::from_str(r#"{"safety_tolerance": 5, "aspect_ratio": "16:9", "seed": 7}"#)
                .unwrap();
        assert_eq!(fields.safety_tolerance, Some(SafetyTolerance::Level5));
        assert_eq!(fields.aspect_ratio, Some(AspectRatio::Landscape16x9));
        assert_eq!(fields.seed, Some(7));

        let error = serde_json::from_str::<Fields>(r#"{"output_format": "webp"}"#)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(r#"invalid output_format `webp`: must be one of "jpeg", "png""#),
            "{error}"
        );
        let error = serde_json::from_str::<Fields>(r#"{"sede": 7}"#)
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("unknown field `sede`"), "{error}");
    }

    #[test]
    fn a_lora_takes_its_scale_only_after_the_last_colon_when_it_is_a_number() {
        let spec = |text: &str| text.parse::<LoraSpec>().unwrap();
        let lora = |path: &str, scale: f64| LoraSpec {
            path: path.into(),
            scale,
        };
        assert_eq!(
            spec("lora/a.safetensors:0.8"),
            lora("lora/a.safetensors", 0.8)
        );
        assert_eq!(spec("lora/a.safetensors"), lora("lora/a.safetensors", 1.0));
        assert_eq!(
            spec("https://x.io/a.safetensors"),
            lora("https://x.io/a.safetensors", 1.0)
        );
        assert_eq!(
            spec("https://x.io/a.safetensors:2"),
            lora("https://x.io/a.safetensors", 2.0)
        );
        assert_eq!(
            spec("https://x.io:8443/a.safetensors"),
            lora("https://x.io:8443/a.safetensors", 1.0)
        );
        assert_eq!(
            spec("http://127.0.0.1:8080"),
            lora("http://127.0.0.1:8080", 1.0)
        );
        assert_eq!(
            spec(r"C:\loras\a.safetensors"),
            lora(r"C:\loras\a.safetensors", 1.0)
        );
        assert_eq!(
            spec(r"C:\loras\a.safetensors:5"),
            lora(r"C:\loras\a.safetensors", 5.0)
        );
        assert!("".parse::<LoraSpec>().is_err());
        assert!(":0.5".parse::<LoraSpec>().is_ok_and(|s| s.path == ":0.5"));
        let loras: Box<[LoraSpec]> = serde_json::from_str(
            r#"["a.safetensors:0.5", {"path": "https://x.io/b.safetensors", "scale": 2}, {"path": "c.safetensors"}]"#,
        )
        .unwrap();
        assert_eq!(
            *loras,
            [
                lora("a.safetensors", 0.5),
                lora("https://x.io/b.safetensors", 2.0),
                lora("c.safetensors", 1.0)
            ]
        );
    }

    #[test]
    fn the_images_decide_the_task() {
        assert!(matches!(Job::task_for(&[]), Task::TextToImage));
        assert!(matches!(
            Job::task_for(&["a.png".into()]),
            Task::Edit(ImageInput::Path(_))
        ));
        assert!(matches!(
            Job::task_for(&["a.png".into(), "https://x/b.png".into()]),
            Task::Multi(images) if images.len() == 2
        ));
    }
}
