//! Where regeneration reads and writes: the files it owns, relative to the
//! repository root, and how to name them in messages.

use std::path::{Path, PathBuf};

/// The files regeneration owns, relative to the repository root.
pub struct Layout {
    root: PathBuf,
}

impl Layout {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }
    pub fn openapi_dir(&self) -> PathBuf {
        self.root.join("openapi")
    }
    pub fn generated_file(&self) -> PathBuf {
        self.root.join("crates/fal-kontext-api/src/generated.rs")
    }
    pub fn endpoints_generated_file(&self) -> PathBuf {
        self.root
            .join("crates/fal-kontext-api/src/generated_endpoints.rs")
    }
    pub fn platform_generated_file(&self) -> PathBuf {
        self.root
            .join("crates/fal-kontext-api/src/generated_platform.rs")
    }
    pub fn relative<'a>(&self, path: &'a Path) -> &'a Path {
        path.strip_prefix(&self.root).unwrap_or(path)
    }
}
