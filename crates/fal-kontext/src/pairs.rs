//! Training pairs for `fal-ai/flux-kontext-trainer`: the layout fal reads,
//! checked before anything is sent, and a directory of pairs zipped to a
//! temporary file (streamed from disk, never the whole archive in memory).
//!
//! fal's layout (<https://fal.ai/models/fal-ai/flux-kontext-trainer/api>,
//! `image_data_url`): one pair per edit, `ROOT_start.EXT` (before) and
//! `ROOT_end.EXT` (after); an optional `ROOT.txt` holds the pair's edit
//! instruction; a pair without one takes `default_caption`, and with neither
//! the training fails. Whether fal reads sub-folders is not documented: the
//! SDK refuses them rather than send pairs fal may not see.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A zip ready to upload: the caller's, or one made from a directory.
pub(crate) enum Staged {
    /// The caller's zip.
    Ready { path: PathBuf, len: u64 },
    /// A zip made from a directory, removed when dropped.
    Made(tempfile::NamedTempFile),
}

/// Checks the pairs at `path` (a zip or a directory), and zips a directory.
/// `has_default`: a default caption is given.
pub(crate) fn stage(field: &'static str, path: &Path, has_default: bool) -> Result<Staged> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let metadata = std::fs::metadata(path).map_err(io)?;
    if metadata.is_dir() {
        let names = directory_names(field, path)?;
        check_layout(field, &names, has_default)?;
        for name in names.iter().filter(|n| !n.ends_with(".txt")) {
            check_image(field, &path.join(name))?;
        }
        return zip_directory(path, &names).map(Staged::Made);
    }
    let file = std::fs::File::open(path).map_err(io)?;
    let archive = zip::ZipArchive::new(file).map_err(|_| Error::InvalidInput {
        field,
        value: path.display().to_string(),
        rule: "must be a zip of training pairs, or a directory of them".into(),
    })?;
    let mut names = Vec::new();
    for name in archive.file_names() {
        // folders and the metadata macOS adds to the zips it makes
        if name.ends_with('/') || name.starts_with("__MACOSX/") {
            continue;
        }
        if name.contains('/') {
            return Err(in_folder(field, name));
        }
        if !name.starts_with('.') {
            names.push(name.to_owned());
        }
    }
    check_layout(field, &names, has_default)?;
    Ok(Staged::Ready {
        path: path.to_path_buf(),
        len: metadata.len(),
    })
}

/// The file names of a directory of pairs, sorted; hidden files skipped.
fn directory_names(field: &'static str, dir: &Path) -> Result<Vec<String>> {
    let io = |source| Error::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        if entry.file_type().map_err(io)?.is_dir() {
            return Err(in_folder(field, &format!("{name}/")));
        }
        names.push(name);
    }
    names.sort();
    Ok(names)
}

fn in_folder(field: &'static str, name: &str) -> Error {
    Error::InvalidInput {
        field,
        value: name.to_owned(),
        rule: "is in a sub-folder: fal reads pairs at the top of the zip (ROOT_start.EXT, \
               ROOT_end.EXT, ROOT.txt); whether it reads sub-folders is not documented"
            .into(),
    }
}

/// fal's layout, checked over the file names: every `_start` has its `_end`
/// and the other way round, every pair has a caption (its `ROOT.txt`, or the
/// default), every caption has its pair, and nothing else is there.
pub(crate) fn check_layout(field: &'static str, names: &[String], has_default: bool) -> Result<()> {
    let refuse = |field: &'static str, name: &str, rule: String| Error::InvalidInput {
        field,
        value: name.to_owned(),
        rule,
    };
    let mut starts: BTreeMap<&str, &str> = BTreeMap::new();
    let mut ends: BTreeMap<&str, &str> = BTreeMap::new();
    let mut captions: BTreeSet<&str> = BTreeSet::new();
    for name in names {
        let stem = name.rsplit_once('.').map(|(stem, _)| stem);
        let (side, root) = match stem {
            Some(root) if name.ends_with(".txt") => {
                captions.insert(root);
                continue;
            }
            Some(stem) => match (stem.strip_suffix("_start"), stem.strip_suffix("_end")) {
                (Some(root), _) if !root.is_empty() => (&mut starts, root),
                (_, Some(root)) if !root.is_empty() => (&mut ends, root),
                _ => (&mut starts, ""),
            },
            None => (&mut starts, ""),
        };
        if root.is_empty() {
            return Err(refuse(
                field,
                name,
                "is none of ROOT_start.EXT, ROOT_end.EXT or ROOT.txt (fal's layout of training pairs)"
                    .into(),
            ));
        }
        if let Some(first) = side.insert(root, name) {
            return Err(refuse(
                field,
                name,
                format!("is a second image for the same side of the pair `{root}` (also {first})"),
            ));
        }
    }
    for (root, start) in &starts {
        if !ends.contains_key(root) {
            return Err(refuse(
                field,
                start,
                format!("has no `{root}_end.EXT`: every pair needs its after image"),
            ));
        }
    }
    for (root, end) in &ends {
        if !starts.contains_key(root) {
            return Err(refuse(
                field,
                end,
                format!("has no `{root}_start.EXT`: every pair needs its before image"),
            ));
        }
    }
    for root in &captions {
        if !starts.contains_key(root) {
            return Err(refuse(
                field,
                &format!("{root}.txt"),
                format!("captions no pair: there is no `{root}_start.EXT` and `{root}_end.EXT`"),
            ));
        }
    }
    if starts.is_empty() {
        return Err(refuse(
            field,
            "",
            "holds no pairs: give ROOT_start.EXT and ROOT_end.EXT images".into(),
        ));
    }
    if !has_default
        && let Some((root, start)) = starts.iter().find(|(root, _)| !captions.contains(*root))
    {
        return Err(refuse(
            "default_caption",
            start,
            format!(
                "the pair `{root}` has no caption: add `{root}.txt`, or give a default caption \
                 (fal's training fails otherwise)"
            ),
        ));
    }
    Ok(())
}

/// A pair's image must be one fal takes (sniffed from its first bytes).
fn check_image(field: &'static str, path: &Path) -> Result<()> {
    let io = |source| Error::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut head = Vec::with_capacity(64);
    std::fs::File::open(path)
        .map_err(io)?
        .take(64)
        .read_to_end(&mut head)
        .map_err(io)?;
    crate::image_input::sniff(field, &path.display().to_string(), &head).map(|_| ())
}

/// Zips `names` of `dir` into a temporary file, each stored as it is (images
/// are compressed already) and copied from disk a buffer at a time.
fn zip_directory(dir: &Path, names: &[String]) -> Result<tempfile::NamedTempFile> {
    let temp = tempfile::Builder::new()
        .prefix("kontext-pairs-")
        .suffix(".zip")
        .tempfile()
        .map_err(|source| Error::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let zip_error = |error: zip::result::ZipError| Error::Io {
        path: temp.path().to_path_buf(),
        source: std::io::Error::other(error),
    };
    let mut writer = zip::ZipWriter::new(std::io::BufWriter::new(temp.reopen().map_err(
        |source| Error::Io {
            path: temp.path().to_path_buf(),
            source,
        },
    )?));
    for name in names {
        let path = dir.join(name);
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        let mut file = std::fs::File::open(&path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored)
            .large_file(len >= u64::from(u32::MAX));
        writer
            .start_file(name.as_str(), options)
            .map_err(zip_error)?;
        std::io::copy(&mut file, &mut writer).map_err(io)?;
    }
    let mut out = writer.finish().map_err(zip_error)?;
    std::io::Write::flush(&mut out).map_err(|source| Error::Io {
        path: temp.path().to_path_buf(),
        source,
    })?;
    Ok(temp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn refusal(list: &[&str], has_default: bool) -> String {
        check_layout("image_data_url", &names(list), has_default)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn a_complete_layout_passes() {
        let list = names(&[
            "a_start.png",
            "a_end.png",
            "a.txt",
            "b_start.jpg",
            "b_end.webp",
        ]);
        check_layout("image_data_url", &list, true).unwrap();
        let captioned = names(&["a_start.png", "a_end.png", "a.txt"]);
        check_layout("image_data_url", &captioned, false).unwrap();
    }

    #[test]
    fn each_broken_rule_names_the_file() {
        let error = refusal(&["a_start.png", "a.txt"], false);
        assert!(
            error.contains("`a_start.png`") && error.contains("no `a_end.EXT`"),
            "{error}"
        );
        let error = refusal(&["a_end.png", "a.txt"], false);
        assert!(
            error.contains("`a_end.png`") && error.contains("no `a_start.EXT`"),
            "{error}"
        );
        let error = refusal(&["a_start.png", "a_end.png"], false);
        assert!(
            error.starts_with("invalid default_caption `a_start.png`"),
            "{error}"
        );
        assert!(error.contains("add `a.txt`"), "{error}");
        let error = refusal(&["a_start.png", "a_end.png", "b.txt"], true);
        assert!(
            error.contains("`b.txt`") && error.contains("captions no pair"),
            "{error}"
        );
        let error = refusal(&["a_start.png", "a_end.png", "notes.md"], true);
        assert!(
            error.contains("`notes.md`") && error.contains("ROOT_start.EXT"),
            "{error}"
        );
        let error = refusal(&["a_start.png", "a_start.jpg", "a_end.png"], true);
        assert!(error.contains("second image"), "{error}");
        let error = refusal(&[], true);
        assert!(error.contains("holds no pairs"), "{error}");
    }

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn a_directory_is_zipped_with_its_pairs_at_the_top() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["cat_start.png", "cat_end.png"] {
            std::fs::write(dir.path().join(name), PNG).unwrap();
        }
        std::fs::write(dir.path().join("cat.txt"), "make it a tiger").unwrap();
        std::fs::write(dir.path().join(".DS_Store"), "x").unwrap();
        let Staged::Made(zip) = stage("image_data_url", dir.path(), false).unwrap() else {
            panic!("a directory is zipped");
        };
        let archive = zip::ZipArchive::new(std::fs::File::open(zip.path()).unwrap()).unwrap();
        let mut listed: Vec<&str> = archive.file_names().collect();
        listed.sort();
        assert_eq!(listed, ["cat.txt", "cat_end.png", "cat_start.png"]);
        // the zip it made passes as a ready zip
        assert!(matches!(
            stage("image_data_url", zip.path(), false).unwrap(),
            Staged::Ready { .. }
        ));
    }

    #[test]
    fn a_sub_folder_or_a_file_that_is_no_image_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("cat_start.png"), PNG).unwrap();
        std::fs::write(dir.path().join("cat_end.png"), b"not an image").unwrap();
        let error = stage("image_data_url", dir.path(), true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("cat_end.png") && error.contains("PNG"),
            "{error}"
        );
        std::fs::create_dir(dir.path().join("more")).unwrap();
        let error = stage("image_data_url", dir.path(), true)
            .err()
            .unwrap()
            .to_string();
        assert!(
            error.contains("`more/`") && error.contains("sub-folder"),
            "{error}"
        );
    }
}
