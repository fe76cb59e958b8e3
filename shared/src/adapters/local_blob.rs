//! Blob store in a local directory: each key is a file below the root. Writes go to a
//! temporary file first and are renamed into place, so a reader never sees half an object.

use std::path::{Component, Path, PathBuf};

use anyhow::Context as _;
use async_trait::async_trait;
use bytes::Bytes;

use crate::error::StoreError;
use crate::ports::BlobStore;

pub struct LocalDirBlobStore {
    root: PathBuf,
}

impl LocalDirBlobStore {
    /// # Errors
    /// The directory cannot be created.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self, StoreError> {
        let root = root.into();
        std::fs::create_dir_all(&root).with_context(|| format!("creating blob directory {}", root.display()))?;
        Ok(Self { root })
    }

    fn path(&self, key: &str) -> Result<PathBuf, StoreError> {
        let rel = Path::new(key);
        let valid = !key.is_empty()
            && rel.components().all(|c| matches!(c, Component::Normal(_)))
            && !key.ends_with('/');
        if !valid {
            return Err(StoreError::Unknown(anyhow::anyhow!("invalid blob key {key:?}")));
        }
        Ok(self.root.join(rel))
    }
}

#[async_trait]
impl BlobStore for LocalDirBlobStore {
    async fn put(&self, key: &str, body: Bytes, _content_type: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        let dir = path.parent().expect("a key has a parent directory").to_path_buf();
        tokio::fs::create_dir_all(&dir).await.with_context(|| format!("creating {}", dir.display()))?;
        let tmp = dir.join(format!(".{}.tmp-{}", path.file_name().unwrap().to_string_lossy(), uuid::Uuid::new_v4()));
        tokio::fs::write(&tmp, &body).await.with_context(|| format!("writing {}", tmp.display()))?;
        tokio::fs::rename(&tmp, &path).await.with_context(|| format!("renaming into {}", path.display()))?;
        Ok(())
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        let path = self.path(key)?;
        match tokio::fs::read(&path).await {
            Ok(data) => Ok(Some(Bytes::from(data))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::Unknown(anyhow::Error::new(e).context(format!("reading {}", path.display())))),
        }
    }

    async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let root = self.root.clone();
        let prefix = prefix.to_owned();
        tokio::task::spawn_blocking(move || {
            let mut keys = Vec::new();
            // Walk only the directory part of the prefix.
            let dir_part = prefix.rfind('/').map_or("", |i| &prefix[..i]);
            let start = if dir_part.is_empty() { root.clone() } else { root.join(dir_part) };
            let mut stack = vec![start];
            while let Some(dir) = stack.pop() {
                let entries = match std::fs::read_dir(&dir) {
                    Ok(e) => e,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(StoreError::Unknown(anyhow::Error::new(e))),
                };
                for entry in entries {
                    let entry = entry.map_err(StoreError::unknown)?;
                    let path = entry.path();
                    let name = entry.file_name();
                    if name.to_string_lossy().starts_with('.') {
                        continue;
                    }
                    if entry.file_type().map_err(StoreError::unknown)?.is_dir() {
                        stack.push(path);
                    } else if let Ok(rel) = path.strip_prefix(&root) {
                        let key = rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
                        if key.starts_with(&prefix) {
                            keys.push(key);
                        }
                    }
                }
            }
            keys.sort();
            Ok(keys)
        })
        .await
        .map_err(|e| StoreError::Unknown(anyhow::Error::new(e)))?
    }

    async fn delete(&self, key: &str) -> Result<(), StoreError> {
        let path = self.path(key)?;
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::Unknown(anyhow::Error::new(e))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_get_list_delete() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirBlobStore::open(dir.path()).unwrap();
        store.put("kb/1/pages/a.md", Bytes::from_static(b"# A"), "text/markdown").await.unwrap();
        store.put("kb/1/pages/b.md", Bytes::from_static(b"# B"), "text/markdown").await.unwrap();
        store.put("kb/2/pages/c.md", Bytes::from_static(b"# C"), "text/markdown").await.unwrap();
        store.put("kb/1/pages/a.md", Bytes::from_static(b"# A2"), "text/markdown").await.unwrap();
        assert_eq!(store.get("kb/1/pages/a.md").await.unwrap().unwrap(), Bytes::from_static(b"# A2"));
        assert_eq!(store.get("kb/1/pages/zzz.md").await.unwrap(), None);
        assert_eq!(store.list("kb/1/").await.unwrap(), vec!["kb/1/pages/a.md", "kb/1/pages/b.md"]);
        assert_eq!(store.delete_prefix("kb/1/").await.unwrap(), 2);
        assert!(store.list("kb/1/").await.unwrap().is_empty());
        assert_eq!(store.list("kb/").await.unwrap(), vec!["kb/2/pages/c.md"]);
        store.delete("kb/2/pages/c.md").await.unwrap();
        store.delete("kb/2/pages/c.md").await.unwrap();
    }

    #[tokio::test]
    async fn keys_cannot_escape_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalDirBlobStore::open(dir.path()).unwrap();
        for key in ["../x", "/etc/passwd", "a/../../x", "", "a/"] {
            assert!(store.put(key, Bytes::new(), "x").await.is_err(), "{key}");
        }
    }
}
