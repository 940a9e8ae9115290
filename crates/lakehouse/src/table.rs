//! Finding an Iceberg table's current metadata file and listing the data files of its
//! current snapshot.
//!
//! The file-system catalog: a table lives under `<warehouse>/<namespace>/<table>` (the
//! layout of Hadoop tables and of PyIceberg's SQL catalog) or `<warehouse>/<namespace>.db/
//! <table>` (Hive, Glue and Spark's session catalog). Its current metadata file is the
//! metadata file with the highest version (`vN.metadata.json` or
//! `NNNNN-<uuid>.metadata.json`): every commit writes a new file numbered one past its
//! parent's, and an object store's PUT makes it appear whole.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::error::{Error, Result};
use crate::io::FileIo;
use crate::manifest::{Content, DataFile, ManifestFile, Status, read_manifest, read_manifest_list};
use crate::metadata::TableMetadata;

/// Where an Iceberg table's metadata is found.
#[derive(Debug, Clone, PartialEq)]
pub enum Catalog {
    /// A warehouse directory on an object store or a file system.
    FileSystem { warehouse: String },
    /// The table's root location, given directly.
    Location(String),
}

/// The version a metadata file's name carries (`v12.metadata.json` → 12,
/// `00012-<uuid>.metadata.json` → 12).
pub(crate) fn metadata_version(name: &str) -> Option<u64> {
    let stem = name.strip_suffix(".metadata.json")?;
    let stem = stem.strip_prefix('v').unwrap_or(stem);
    let digits: String = stem.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// The candidate root locations of `namespace.table` in `catalog`.
pub fn table_roots(catalog: &Catalog, identifier: &str) -> Vec<String> {
    match catalog {
        Catalog::Location(location) => vec![location.trim_end_matches('/').to_string()],
        Catalog::FileSystem { warehouse } => {
            let warehouse = warehouse.trim_end_matches('/');
            let (namespace, table) = identifier.rsplit_once('.').unwrap_or(("", identifier));
            if namespace.is_empty() {
                return vec![format!("{warehouse}/{table}")];
            }
            vec![
                format!("{warehouse}/{}/{table}", namespace.replace('.', "/")),
                format!("{warehouse}/{namespace}.db/{table}"),
            ]
        }
    }
}

/// The current metadata file of the table at `root`: the highest version listed. The
/// version hint is read only when no listed file carries a version (a writer killed
/// between its commit and the hint leaves the hint one behind).
pub fn current_metadata_file(io: &FileIo, root: &str) -> Result<String> {
    let directory = format!("{root}/metadata");
    let files = io.list(&directory)?;
    let newest = files
        .iter()
        .filter_map(|file| {
            let name = file.rsplit('/').next()?;
            Some((metadata_version(name)?, file.clone()))
        })
        .max()
        .map(|(_, file)| file);
    if let Some(file) = newest {
        return Ok(file);
    }
    let hint = format!("{directory}/version-hint.text");
    if files.contains(&hint) {
        let text = io.read(&hint)?;
        let text = String::from_utf8_lossy(&text).trim().to_string();
        return Ok(if text.ends_with(".metadata.json") {
            format!("{directory}/{}", text.rsplit('/').next().unwrap_or(&text))
        } else {
            format!("{directory}/v{text}.metadata.json")
        });
    }
    Err(Error::NotFound {
        location: root.to_string(),
        message: format!("`{directory}` holds no `*.metadata.json` file"),
    })
}

/// Find the table's current metadata file, trying each candidate root.
pub fn locate(io: &FileIo, catalog: &Catalog, identifier: &str) -> Result<String> {
    let roots = table_roots(catalog, identifier);
    for root in &roots {
        match current_metadata_file(io, root) {
            Ok(file) => return Ok(file),
            Err(Error::NotFound { .. }) => {}
            Err(error) => return Err(error),
        }
    }
    Err(Error::NotFound {
        location: roots.join("` or `"),
        message: "no `metadata/*.metadata.json` file there".into(),
    })
}

/// Read a metadata file.
pub fn load_metadata(io: &FileIo, file: &str) -> Result<TableMetadata> {
    let bytes = io.read(file)?;
    TableMetadata::parse(&bytes, file)
}

/// Manifests read once (they are immutable), by path.
#[derive(Debug, Default, Clone)]
pub struct ManifestCache {
    manifests: Arc<Mutex<HashMap<String, Arc<Vec<DataFile>>>>>,
}

impl ManifestCache {
    /// The live data files of one manifest.
    fn data_files(&self, io: &FileIo, manifest: &ManifestFile) -> Result<Arc<Vec<DataFile>>> {
        if let Some(files) = self
            .manifests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&manifest.path)
        {
            return Ok(files.clone());
        }
        let bytes = io.read(&manifest.path)?;
        let entries = read_manifest(&bytes, &manifest.path, manifest.partition_spec_id)?;
        let mut files = Vec::with_capacity(entries.len());
        for entry in entries {
            if entry.status == Status::Deleted {
                continue;
            }
            let file = entry.data_file;
            if file.content == Content::Deletes {
                return Err(Error::metadata(
                    &manifest.path,
                    format!(
                        "delete file `{}`: row-level deletes are not supported (compact the \
                         table first)",
                        file.path
                    ),
                ));
            }
            if file.format != "PARQUET" {
                return Err(Error::metadata(
                    &manifest.path,
                    format!(
                        "data file `{}` is {}: only Parquet data files are read",
                        file.path, file.format
                    ),
                ));
            }
            files.push(file);
        }
        let files = Arc::new(files);
        self.manifests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(manifest.path.clone(), files.clone());
        Ok(files)
    }
}

/// The data files of the table's current snapshot (none for a table never written).
pub fn current_data_files(
    io: &FileIo,
    metadata: &TableMetadata,
    cache: &ManifestCache,
) -> Result<Vec<DataFile>> {
    let Some(snapshot) = metadata.current_snapshot() else {
        return Ok(Vec::new());
    };
    let list = io.read(&snapshot.manifest_list)?;
    let manifests = read_manifest_list(&list, &snapshot.manifest_list)?;
    let mut out = Vec::new();
    // A delete manifest with a live entry is an error (row-level deletes are not read);
    // one whose entries were all removed deletes nothing.
    for manifest in &manifests {
        out.extend(cache.data_files(io, manifest)?.iter().cloned());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_both_naming_schemes() {
        assert_eq!(metadata_version("v12.metadata.json"), Some(12));
        assert_eq!(
            metadata_version("00012-58f4e496-4cf8-4ddd-9946-c5d57f4758a0.metadata.json"),
            Some(12)
        );
        assert_eq!(metadata_version("version-hint.text"), None);
        assert_eq!(metadata_version("snap-1-0-x.avro"), None);
    }

    #[test]
    fn a_warehouse_names_both_layouts() {
        let catalog = Catalog::FileSystem {
            warehouse: "s3://b/wh/".into(),
        };
        assert_eq!(
            table_roots(&catalog, "lake.events"),
            vec![
                "s3://b/wh/lake/events".to_string(),
                "s3://b/wh/lake.db/events".to_string()
            ]
        );
        assert_eq!(
            table_roots(&catalog, "events"),
            vec!["s3://b/wh/events".to_string()]
        );
    }
}
