//! A model repository on disk, laid out as TF Serving's: `REPO/NAME/0001/`, `0002/`, … (model.json + shards), and
//! `REPO/NAME/versions.json` listing them, which the browser's model store reads.
//!
//! Version directories are never touched once written: publishing a version that exists is an error, and only
//! a version that is not `latest` can be retired. versions.json is replaced atomically (written beside, renamed),
//! and every change holds an exclusive lock on `REPO/NAME/.lock`, so concurrent writers run one after another.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use webinfer::weights::sha256_hex;

use crate::ConvertError;

/// `versions.json`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Versions {
    pub name: String,
    /// The version a client loads when it asks for "latest".
    pub latest: u32,
    /// Every published version, oldest first.
    pub versions: Vec<Version>,
}

/// One published version.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Version {
    pub version: u32,
    /// Its directory under the model's, zero-padded as TF Serving names them (`0001`).
    pub dir: String,
    /// sha256 (lowercase hex) of its model.json.
    pub sha256: String,
    /// Bytes of model.json and every shard.
    pub bytes: u64,
    /// When it was published, RFC 3339 UTC.
    pub created: String,
}

/// One model's directory in a repository (`REPO/NAME`).
pub struct ModelRepo {
    dir: PathBuf,
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> ConvertError {
    ConvertError::Io(format!("{}: {e}", path.display()))
}

/// A version's directory name: `0001`.
pub fn version_dir(version: u32) -> String {
    format!("{version:04}")
}

impl ModelRepo {
    /// The model at `dir` (`REPO/NAME`); nothing is read until asked.
    pub fn new(dir: &Path) -> Self {
        ModelRepo { dir: dir.to_path_buf() }
    }

    /// Holds the model's exclusive write lock until dropped (blocking while another writer holds it).
    fn lock(&self) -> Result<std::fs::File, ConvertError> {
        std::fs::create_dir_all(&self.dir).map_err(|e| io_err(&self.dir, e))?;
        let path = self.dir.join(".lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| io_err(&path, e))?;
        file.lock().map_err(|e| io_err(&path, e))?;
        Ok(file)
    }

    fn versions_path(&self) -> PathBuf {
        self.dir.join("versions.json")
    }

    /// The model's name: the last component of its directory.
    pub fn name(&self) -> String {
        self.dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    }

    /// versions.json, or an empty list for a model with none yet.
    pub fn versions(&self) -> Result<Versions, ConvertError> {
        let path = self.versions_path();
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|e| ConvertError::Parse(format!("{}: {e}", path.display())))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Ok(Versions { name: self.name(), ..Versions::default() })
            }
            Err(e) => Err(io_err(&path, e)),
        }
    }

    /// The version `publish` takes when none is given: one past every listed version and every numbered directory.
    pub fn next_version(&self) -> Result<u32, ConvertError> {
        let listed = self.versions()?.versions.iter().map(|v| v.version).max().unwrap_or(0);
        let on_disk = std::fs::read_dir(&self.dir)
            .map(|entries| entries.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok()).max().unwrap_or(0))
            .unwrap_or(0);
        Ok(listed.max(on_disk) + 1)
    }

    /// Publishes a new version: `write` fills its (not yet existing) directory, then versions.json lists it and,
    /// unless `latest` names another listed version, makes it the latest.
    pub fn publish(
        &self,
        version: Option<u32>,
        latest: Option<u32>,
        write: impl FnOnce(&Path) -> Result<(), ConvertError>,
    ) -> Result<Version, ConvertError> {
        let _lock = self.lock()?;
        let mut versions = self.versions()?;
        let version = match version {
            Some(0) => return Err(ConvertError::Io("--version must be at least 1".into())),
            Some(v) => v,
            None => self.next_version()?,
        };
        let dir = self.dir.join(version_dir(version));
        if versions.versions.iter().any(|v| v.version == version) || dir.exists() {
            return Err(ConvertError::Io(format!(
                "{}: version {version} exists; published versions are never replaced (publish {} instead)",
                dir.display(),
                self.next_version()?
            )));
        }
        if let Some(l) = latest.filter(|&l| l != version && !versions.versions.iter().any(|v| v.version == l)) {
            return Err(ConvertError::Io(format!("--latest {l}: no such version of {}", self.dir.display())));
        }
        write(&dir)?;
        let entry = describe(&dir, version)?;
        versions.name = self.name();
        versions.versions.push(entry.clone());
        versions.versions.sort_by_key(|v| v.version);
        versions.latest = latest.unwrap_or(version);
        self.save(&versions)?;
        Ok(entry)
    }

    /// Makes `version` the latest (a rollback when it is older).
    pub fn promote(&self, version: u32) -> Result<Versions, ConvertError> {
        let _lock = self.lock()?;
        let mut versions = self.versions()?;
        if !versions.versions.iter().any(|v| v.version == version) {
            return Err(ConvertError::Io(format!("{}: no version {version} to promote", self.dir.display())));
        }
        versions.latest = version;
        self.save(&versions)?;
        Ok(versions)
    }

    /// Removes a version that is not the latest: first from versions.json, then its directory.
    pub fn retire(&self, version: u32) -> Result<Versions, ConvertError> {
        let _lock = self.lock()?;
        let mut versions = self.versions()?;
        if versions.latest == version {
            return Err(ConvertError::Io(format!(
                "{}: version {version} is the latest; promote another first",
                self.dir.display()
            )));
        }
        let Some(at) = versions.versions.iter().position(|v| v.version == version) else {
            return Err(ConvertError::Io(format!("{}: no version {version} to retire", self.dir.display())));
        };
        let entry = versions.versions.remove(at);
        self.save(&versions)?;
        let dir = self.dir.join(&entry.dir);
        std::fs::remove_dir_all(&dir).map_err(|e| io_err(&dir, e))?;
        Ok(versions)
    }

    /// Writes versions.json beside itself and renames it into place, so a reader sees the old list or the new.
    fn save(&self, versions: &Versions) -> Result<(), ConvertError> {
        let path = self.versions_path();
        let tmp = self.dir.join(".versions.json.tmp");
        let mut text = serde_json::to_string_pretty(versions).expect("versions.json serializes");
        text.push('\n');
        std::fs::write(&tmp, text).map_err(|e| io_err(&tmp, e))?;
        std::fs::rename(&tmp, &path).map_err(|e| io_err(&path, e))
    }
}

/// A written version directory's entry: model.json's sha256 and the bytes of every file.
fn describe(dir: &Path, version: u32) -> Result<Version, ConvertError> {
    let model_json = dir.join("model.json");
    let text = std::fs::read(&model_json).map_err(|e| io_err(&model_json, e))?;
    let mut bytes = 0u64;
    for entry in std::fs::read_dir(dir).map_err(|e| io_err(dir, e))? {
        let entry = entry.map_err(|e| io_err(dir, e))?;
        bytes += entry.metadata().map_err(|e| io_err(&entry.path(), e))?.len();
    }
    Ok(Version {
        version,
        dir: version_dir(version),
        sha256: sha256_hex(&text),
        bytes,
        created: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
    })
}
