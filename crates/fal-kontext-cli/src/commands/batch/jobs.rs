//! The jobs file: one JSON object per line, with the input's own field
//! names plus an `id` that names the outputs. A line that cannot be used
//! becomes a failure of its own; it never stops the others.

use std::path::Path;
use std::time::Duration;

use fal_kontext::{ImageInput, LoraPath};
use serde_json::{Map, Value};

use fal_kontext::Fields;

use crate::job::{Job, LoraSpec, Model, QueueSettings, Task};
use crate::output::check_stem;

/// One line of the jobs file that holds a job.
#[derive(Debug)]
pub struct Line {
    /// Its number, from 1.
    pub number: usize,
    /// The job, or why the line is unusable (with the id, when it had one).
    pub job: Result<(String, Job), (Option<String>, String)>,
}

impl Line {
    /// The job's id, or `line N` for a line without one.
    pub fn name(&self) -> String {
        match &self.job {
            Ok((id, _)) | Err((Some(id), _)) => id.clone(),
            Err((None, _)) => format!("line {}", self.number),
        }
    }
}

/// Reads every non-blank line. Local image paths are taken relative to
/// `base` (the jobs file's directory); each job gets `model` and `timeout`.
pub fn parse(text: &str, base: &Path, model: Model, timeout: Option<Duration>) -> Vec<Line> {
    let mut lines: Vec<Line> = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut job = parse_line(line, base, model, timeout);
        if let Ok((id, _)) = &job
            && let Some(first) = lines
                .iter()
                .find(|l| matches!(&l.job, Ok((other, _)) if other == id))
        {
            job = Err((
                None,
                format!("duplicate id `{id}` (first on line {})", first.number),
            ));
        }
        lines.push(Line {
            number: index + 1,
            job,
        });
    }
    lines
}

fn parse_line(
    line: &str,
    base: &Path,
    model: Model,
    timeout: Option<Duration>,
) -> Result<(String, Job), (Option<String>, String)> {
    let mut map: Map<String, Value> =
        serde_json::from_str(line).map_err(|e| (None, format!("not a JSON object: {e}")))?;
    let id = match map.remove("id") {
        Some(Value::String(id)) => id,
        Some(other) => return Err((None, format!("\"id\" must be a string, not {other}"))),
        None => return Err((None, "no \"id\"".into())),
    };
    check_stem(&id).map_err(|rule| (None, format!("invalid id: {rule}")))?;
    let fail = |reason: String| (Some(id.clone()), reason);
    let prompt = match map.remove("prompt") {
        Some(Value::String(prompt)) => prompt,
        _ => return Err(fail("\"prompt\" must be a string".into())),
    };
    let image = |value: Value| match value {
        Value::String(text) => Ok(image_input(&text, base)),
        other => Err(fail(format!(
            "an image must be a path or a URL, not {other}"
        ))),
    };
    let task = match (map.remove("image_url"), map.remove("image_urls")) {
        (Some(_), Some(_)) => {
            return Err(fail(
                "give \"image_url\" or \"image_urls\", not both".into(),
            ));
        }
        (Some(url), None) => Task::Edit(image(url)?),
        (None, Some(Value::Array(urls))) => {
            Task::Multi(urls.into_iter().map(image).collect::<Result<_, _>>()?)
        }
        (None, Some(_)) => return Err(fail("\"image_urls\" must be a list".into())),
        (None, None) => Task::TextToImage,
    };
    let mut loras: Box<[LoraSpec]> = match map.remove("loras") {
        Some(loras) => serde_json::from_value(loras).map_err(|e| fail(format!("loras: {e}")))?,
        None => Box::default(),
    };
    for lora in loras.iter_mut() {
        lora.path = lora_path(&lora.path, base);
    }
    let fields: Fields =
        serde_json::from_value(Value::Object(map)).map_err(|e| fail(e.to_string()))?;
    let job = Job {
        prompt,
        task,
        model,
        fields,
        loras,
        queue: QueueSettings::default(),
        timeout,
    };
    Ok((id, job))
}

/// An image as the SDK reads it, with a relative local path taken from `base`.
fn image_input(text: &str, base: &Path) -> ImageInput {
    match ImageInput::from(text) {
        ImageInput::Path(path) if path.is_relative() => ImageInput::Path(base.join(path)),
        other => other,
    }
}

/// A LoRA as the SDK reads it (a URL, or a local file), with a relative
/// local path taken from `base`, as an image's is.
fn lora_path(text: &str, base: &Path) -> String {
    match LoraPath::from(text) {
        LoraPath::File(path) if path.is_relative() => base.join(path).display().to_string(),
        _ => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_one(line: &str) -> Result<(String, Job), (Option<String>, String)> {
        parse(line, Path::new("jobs"), Model::Pro, None)
            .remove(0)
            .job
    }

    #[test]
    fn local_paths_are_relative_to_the_jobs_file_and_urls_stay() {
        let (id, job) =
            parse_one(r#"{"id": "a1", "prompt": "p", "image_url": "photos/a1.png", "seed": 7}"#)
                .unwrap();
        assert_eq!(id, "a1");
        assert_eq!(job.fields.seed, Some(7));
        assert!(
            matches!(job.task, Task::Edit(ImageInput::Path(p)) if p == Path::new("jobs/photos/a1.png"))
        );

        let (_, job) = parse_one(
            r#"{"id": "m", "prompt": "p", "image_urls": ["https://x/a.png", "/abs/b.png"]}"#,
        )
        .unwrap();
        let Task::Multi(images) = job.task else {
            panic!("{:?}", job.task)
        };
        assert_eq!(images[0], ImageInput::Url("https://x/a.png".into()));
        assert_eq!(images[1], ImageInput::Path("/abs/b.png".into()));

        let (_, job) = parse_one(r#"{"id": "t", "prompt": "p"}"#).unwrap();
        assert!(matches!(job.task, Task::TextToImage));

        let (_, job) = parse_one(
            r#"{"id": "l", "prompt": "p", "loras": ["styles/ink.safetensors:0.5", "https://x/l.safetensors", {"path": "/abs/m.safetensors"}]}"#,
        )
        .unwrap();
        let paths: Vec<&str> = job.loras.iter().map(|l| l.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                Path::new("jobs/styles/ink.safetensors").to_str().unwrap(),
                "https://x/l.safetensors",
                "/abs/m.safetensors"
            ]
        );
        assert_eq!(job.loras[0].scale, 0.5);
    }

    #[test]
    fn bad_lines_say_why_and_keep_their_id_when_they_have_one() {
        let cases = [
            ("not json", None, "not a JSON object"),
            (r#"{"prompt": "p"}"#, None, "no \"id\""),
            (r#"{"id": "../x", "prompt": "p"}"#, None, "invalid id"),
            (
                r#"{"id": "a", "image_url": "x.png"}"#,
                Some("a"),
                "\"prompt\" must be a string",
            ),
            (
                r#"{"id": "a", "prompt": "p", "sede": 7}"#,
                Some("a"),
                "unknown field `sede`",
            ),
            (
                r#"{"id": "a", "prompt": "p", "output_format": "webp"}"#,
                Some("a"),
                "invalid output_format `webp`",
            ),
        ];
        for (line, id, reason) in cases {
            let (got_id, got_reason) = parse_one(line).unwrap_err();
            assert_eq!(got_id.as_deref(), id, "{line}");
            assert!(got_reason.contains(reason), "{line}: {got_reason}");
        }
    }

    #[test]
    fn blank_lines_are_skipped_and_duplicates_refused() {
        let text = "{\"id\": \"a\", \"prompt\": \"p\"}\n\n{\"id\": \"a\", \"prompt\": \"q\"}\n";
        let lines = parse(text, Path::new("."), Model::Pro, None);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[1].number, 3);
        let (_, reason) = lines[1].job.as_ref().unwrap_err();
        assert_eq!(reason, "duplicate id `a` (first on line 1)");
        assert_eq!(lines[1].name(), "line 3");
    }
}
