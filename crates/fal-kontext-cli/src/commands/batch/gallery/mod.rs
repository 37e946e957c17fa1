//! The gallery: `index.html` in a batch's `--out`, every job's inputs and
//! outputs side by side with its prompt, fields, state, request and cost,
//! made from the jobs file and the state file. `kontext batch` writes it
//! after each run, `kontext gallery DIR` at any time, `kontext edit
//! --gallery` for one edit. It works from `file://` with no network: images
//! are referenced relatively, remote inputs from a copy fetched when the
//! batch ran.
//!
//! - [`command`]: `kontext gallery DIR`, which writes it again;
//! - [`read`]: the jobs and what became of them;
//! - [`thumbs`]: the thumbnails, made once;
//! - [`html`]: the page.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::path::{Component, Path, PathBuf};
use std::time::SystemTime;

use fal_kontext::Client;
use futures::StreamExt;

use crate::output::AnyOutput;

pub mod command;
mod html;
mod read;
mod thumbs;

use html::{Card, Heading, Pic};
use read::Entry;
use thumbs::Wanted;

/// The page's name in `--out`.
pub const PAGE: &str = "index.html";
/// The gallery's own files in `--out`: thumbnails, remote inputs.
const DIR: &str = ".gallery";
/// How long fetching one remote input for the gallery may take.
const FETCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
/// How many remote inputs are fetched at once.
const FETCHES: usize = 8;
/// The extensions the SDK gives a downloaded image.
const EXTENSIONS: [&str; 5] = ["jpg", "png", "webp", "gif", "avif"];

/// A page written.
#[derive(Debug)]
pub struct Written {
    /// Where.
    pub path: PathBuf,
    /// How many jobs it shows.
    pub jobs: usize,
    /// Its size in bytes.
    pub bytes: usize,
}

/// After a batch run: notes the jobs file, fetches the remote inputs of the
/// jobs that ran (once; without the key: they are the user's URLs), and
/// writes the page. A gallery that cannot be made is reported on stderr and
/// never fails the batch.
pub async fn after_batch(client: &Client, jobs: &Path, out: &Path, quiet: bool) {
    let made = async {
        std::fs::create_dir_all(out.join(DIR).join("inputs"))?;
        let absolute = std::path::absolute(jobs)?;
        std::fs::write(
            out.join(read::JOBS_FILE_NOTE),
            format!("{}\n", absolute.display()),
        )?;
        fetch_remote_inputs(client, out, &read::batch(out, Some(jobs))).await;
        write(out, Some(jobs))
    };
    match made.await {
        Ok(written) if !quiet => eprintln!("gallery: {}", written.path.display()),
        Ok(_) => {}
        Err(error) => eprintln!("warning: the gallery could not be written: {error}"),
    }
}

/// Writes `out/index.html` for the batch in `out`, its jobs read from
/// `jobs`, else from the jobs file the last batch run noted (the state file
/// alone, without prompts and inputs, when there is none). Fetches nothing.
pub fn write(out: &Path, jobs: Option<&Path>) -> std::io::Result<Written> {
    let noted = read::recorded_jobs_file(out);
    let jobs = jobs.or(noted.as_deref());
    let entries = read::batch(out, jobs);
    let base = jobs.and_then(Path::parent).unwrap_or(Path::new(""));
    let source = match jobs {
        Some(jobs) => format!(
            "jobs: {}; made {}",
            relative(out, jobs)
                .unwrap_or_else(|| jobs.to_path_buf())
                .display(),
            utc(SystemTime::now())
        ),
        None => format!("made {} from the state file alone", utc(SystemTime::now())),
    };
    let heading = Heading {
        title: &format!("kontext batch: {} job(s)", entries.len()),
        source,
        nonce: nonce(),
        out: out.display().to_string(),
    };
    page(out, PAGE, base, &entries, &heading)
}

/// The before/after page of one edit, `<stem>.html` beside its images.
pub fn single(out: &Path, stem: &str, entry: Entry, saved: &[PathBuf]) -> std::io::Result<Written> {
    let entry = Entry {
        outputs: saved.iter().filter_map(|p| read::file_name(p)).collect(),
        ..entry
    };
    let heading = Heading {
        title: &format!("kontext edit: {stem}"),
        source: format!("made {}", utc(SystemTime::now())),
        nonce: nonce(),
        out: out.display().to_string(),
    };
    let name = format!("{stem}.html");
    page(
        out,
        &name,
        Path::new(""),
        std::slice::from_ref(&entry),
        &heading,
    )
}

/// An [`Entry`] for one edit: its id, prompt, input, request and fields.
pub fn edited(
    id: &str,
    prompt: &str,
    input: &str,
    request: (String, String),
    fields: Vec<(String, String)>,
) -> Entry {
    Entry {
        id: id.to_owned(),
        prompt: Some(prompt.to_owned()),
        inputs: vec![input.to_owned()],
        fields,
        request: Some(request),
        state: read::State::Done,
        ..Entry::default()
    }
}

/// Makes the thumbnails and writes the page `out/name` (through a temporary
/// file, so a reader never sees half of one); local inputs are relative to
/// `base`.
fn page(
    out: &Path,
    name: &str,
    base: &Path,
    entries: &[Entry],
    heading: &Heading,
) -> std::io::Result<Written> {
    let thumbs = out.join(DIR).join("thumbs");
    std::fs::create_dir_all(&thumbs)?;
    // Every image of every job, and its thumbnail.
    let mut wanted = Vec::new();
    let mut places = Vec::new();
    for entry in entries {
        let safe = crate::output::check_stem(&entry.id).is_ok();
        let mut sides = [Vec::new(), Vec::new()];
        for (n, input) in entry.inputs.iter().enumerate() {
            let local = local_input(out, base, &entry.id, n, input);
            sides[0].push((
                local,
                format!("{}-in{}.jpg", entry.id, n + 1),
                input.clone(),
            ));
        }
        for name in &entry.outputs {
            let local = Some(out.join(name));
            sides[1].push((local, format!("{name}.jpg"), name.clone()));
        }
        for side in &sides {
            for (local, thumb, _) in side {
                if let (Some(source), true) = (local, safe) {
                    wanted.push(Wanted {
                        source: source.clone(),
                        thumb: thumbs.join(thumb),
                    });
                }
            }
        }
        places.push((safe, sides));
    }
    let mut made = thumbs::make_all(&wanted).into_iter();
    let cards: Vec<Card> = entries
        .iter()
        .zip(places)
        .map(|(entry, (safe, [inputs, outputs]))| {
            let mut pics = |side: Vec<(Option<PathBuf>, String, String)>| {
                side.into_iter()
                    .map(|(local, thumb, named)| {
                        let thumbed = local.is_some() && safe && made.next() == Some(true);
                        match local {
                            Some(source) if source.exists() => {
                                let href = relative_url(out, &source);
                                let src = if thumbed {
                                    relative_url(out, &thumbs.join(&thumb))
                                } else {
                                    href.clone()
                                };
                                Pic::Shown { src, href }
                            }
                            _ => Pic::Missing(format!("not here: {named}")),
                        }
                    })
                    .collect()
            };
            let inputs = pics(inputs);
            let outputs = pics(outputs);
            let saved_at = entry
                .outputs
                .first()
                .and_then(|name| std::fs::metadata(out.join(name)).ok())
                .and_then(|m| m.modified().ok())
                .map(utc);
            Card {
                entry,
                inputs,
                outputs,
                saved_at,
            }
        })
        .collect();
    let html = html::page(heading, &cards);
    let path = out.join(name);
    let part = out.join(DIR).join(format!("{name}.part"));
    std::fs::write(&part, &html)?;
    std::fs::rename(&part, &path)?;
    Ok(Written {
        path,
        jobs: cards.len(),
        bytes: html.len(),
    })
}

/// The local file an input is shown from: the file itself, or the copy of
/// a remote one fetched when the batch ran (`None` when there is none).
fn local_input(out: &Path, base: &Path, id: &str, n: usize, input: &str) -> Option<PathBuf> {
    if is_remote(input) {
        let stem = remote_stem(id, n);
        return EXTENSIONS
            .iter()
            .map(|ext| out.join(DIR).join("inputs").join(format!("{stem}-1.{ext}")))
            .find(|path| path.exists());
    }
    if input.starts_with("data:") {
        return None;
    }
    Some(base.join(input))
}

/// Whether an input is a URL fal fetches.
fn is_remote(input: &str) -> bool {
    input.starts_with("https://") || input.starts_with("http://")
}

/// The stem of a remote input's local copy.
fn remote_stem(id: &str, n: usize) -> String {
    format!("{id}-in{}", n + 1)
}

/// Fetches, once, the remote inputs of the jobs fal has seen, into
/// `.gallery/inputs/`, each bounded by [`FETCH_LIMIT`]. One that cannot be
/// fetched is shown as missing.
async fn fetch_remote_inputs(client: &Client, out: &Path, entries: &[Entry]) {
    let dir = out.join(DIR).join("inputs");
    let wanted: Vec<(String, String)> = entries
        .iter()
        .filter(|e| e.request.is_some() && crate::output::check_stem(&e.id).is_ok())
        .flat_map(|e| {
            e.inputs
                .iter()
                .enumerate()
                .filter(|(n, input)| {
                    is_remote(input) && local_input(out, Path::new(""), &e.id, *n, input).is_none()
                })
                .map(|(n, input)| (remote_stem(&e.id, n), input.clone()))
        })
        .collect();
    futures::stream::iter(wanted)
        .for_each_concurrent(FETCHES, |(stem, url)| {
            let dir = &dir;
            async move {
                let image = AnyOutput(serde_json::json!({"images": [{"url": url}]}));
                let _ =
                    tokio::time::timeout(FETCH_LIMIT, client.download_as(&image, dir, &stem)).await;
            }
        })
        .await;
}

/// `to` as a URL relative to the directory `from`, each segment
/// percent-encoded; a `file://` URL when no relative path leads there.
fn relative_url(from: &Path, to: &Path) -> String {
    match relative(from, to) {
        Some(path) => path
            .components()
            .map(|c| encode(&c.as_os_str().to_string_lossy()))
            .collect::<Vec<_>>()
            .join("/"),
        None => format!("file://{}", encode(&to.to_string_lossy())),
    }
}

/// The path of `to` relative to the directory `from`; `None` when none
/// leads there (another drive).
fn relative(from: &Path, to: &Path) -> Option<PathBuf> {
    let (from, to) = (
        std::path::absolute(from).ok()?,
        std::path::absolute(to).ok()?,
    );
    let (from, to): (Vec<Component>, Vec<Component>) =
        (from.components().collect(), to.components().collect());
    if from.first() != to.first() {
        return None;
    }
    let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let mut path: PathBuf =
        std::iter::repeat_n(Component::ParentDir, from.len() - common).collect();
    path.extend(&to[common..]);
    Some(path)
}

/// Percent-encodes what a URL path must not hold (anything but letters,
/// digits and `-._~/`).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A fresh random token (the hasher's keys come from the OS).
fn nonce() -> String {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

/// A time as `2026-12-02 20:45:07 UTC`.
fn utc(time: SystemTime) -> String {
    let t = time::OffsetDateTime::from(time);
    format!(
        "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc() {
        let at = |secs| utc(SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(at(951_782_400), "2000-02-29 00:00:00 UTC");
        assert_eq!(at(1_796_244_307), "2026-12-02 20:45:07 UTC");
    }

    #[test]
    fn the_page_shows_thumbnails_when_it_can_and_the_images_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let sample = concat!(env!("CARGO_MANIFEST_DIR"), "/../../assets/sample.png");
        std::fs::copy(sample, dir.path().join("a-1.png")).unwrap();
        std::fs::write(
            dir.path().join(crate::commands::batch::state::FILE_NAME),
            "{\"id\":\"a\",\"done\":[\"elsewhere/a-1.png\"]}\n",
        )
        .unwrap();
        let written = write(dir.path(), None).unwrap();
        assert_eq!(
            (written.path.clone(), written.jobs),
            (dir.path().join(PAGE), 1)
        );
        let html = std::fs::read_to_string(&written.path).unwrap();
        assert_eq!(html.len(), written.bytes);
        assert!(html.contains("<a href=\"a-1.png\""), "{html}");
        let shown = if cfg!(feature = "thumbnails") {
            "src=\".gallery/thumbs/a-1.png.jpg\""
        } else {
            "src=\"a-1.png\""
        };
        assert!(html.contains(shown), "{html}");
        assert!(html.contains("made ") && html.contains("from the state file alone"));
    }

    #[test]
    fn images_are_referenced_relative_to_the_page() {
        assert_eq!(
            relative_url(Path::new("/b/out"), Path::new("/b/out/a-1.jpg")),
            "a-1.jpg"
        );
        assert_eq!(
            relative_url(Path::new("/b/out"), Path::new("/b/photos/my #1?.png")),
            "../photos/my%20%231%3F.png"
        );
    }
}
