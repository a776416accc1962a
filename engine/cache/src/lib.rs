//! The content store of a node.
//!
//! Every object lives once in one memory region ([`region::Region`], on
//! hugepages when it can be). The index maps a key (`a/b.bin` for the file
//! `DIR/a/b.bin`, served as `/a/b.bin`) to an [`Object`] and is published
//! with an atomic pointer swap: the polling cores read it without taking a
//! lock, and an object being served stays valid while it is replaced or
//! evicted, because each reader holds its own reference until it is done.
//! Loading and eviction (least recently used first, to keep the region
//! within its size) happen on the control plane.
//!
//! Each object carries what HTTP needs: a strong ETag (a SHA-256 of the
//! content), Last-Modified from the file, and a Content-Type from the
//! file extension.

pub mod region;

use arc_swap::ArcSwap;
use region::{Extent, Region};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// A cached object.
pub struct Object {
    /// Key (`a/b.bin`).
    pub key: String,
    /// Strong ETag, quoted (RFC 9110 8.8.3).
    pub etag: String,
    /// Last modification time of the file, unix seconds.
    pub last_modified: u64,
    /// Media type from the extension.
    pub content_type: &'static str,
    extent: Extent,
    region: Arc<Region>,
    last_used: AtomicU64,
}

impl Object {
    /// The content.
    pub fn bytes(&self) -> &[u8] {
        self.region.read(&self.extent)
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.extent.len as u64
    }

    /// Whether the object is empty.
    pub fn is_empty(&self) -> bool {
        self.extent.len == 0
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // The last reference is gone: nobody can be sending from it.
        self.region.release(&self.extent);
    }
}

/// An object's bytes, so that a connection can send them by reference
/// (`anyedge_tcp::buffer::Shared`: an `Arc<Object>` is one without a copy).
impl AsRef<[u8]> for Object {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("key", &self.key)
            .field("len", &self.extent.len)
            .field("etag", &self.etag)
            .finish()
    }
}

/// A load problem, as one line for the operator.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CacheError(pub String);

impl std::fmt::Display for CacheError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CacheError {}

/// What a `load` did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadReport {
    /// Objects loaded or replaced.
    pub loaded: usize,
    /// Bytes loaded.
    pub bytes: u64,
    /// Objects evicted to make room.
    pub evicted: usize,
    /// Entries refused, each with one line saying why (symlink out of the
    /// directory, too big for the region, unreadable, bad name).
    pub refused: Vec<String>,
}

/// Cache counters.
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Lookups that found an object.
    pub hits: AtomicU64,
    /// Lookups that found nothing.
    pub misses: AtomicU64,
    /// Objects evicted.
    pub evictions: AtomicU64,
}

type Index = HashMap<String, Arc<Object>>;

/// The content store.
pub struct Cache {
    region: Arc<Region>,
    index: ArcSwap<Index>,
    root: Option<PathBuf>,
    /// Serializes loads (control plane only).
    load_lock: Mutex<()>,
    /// Counters.
    pub stats: CacheStats,
    epoch: AtomicU64,
}

impl std::fmt::Debug for Cache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (size, used, huge) = self.usage();
        f.debug_struct("Cache")
            .field("region", &size)
            .field("used", &used)
            .field("hugepages", &huge)
            .field("objects", &self.index.load().len())
            .finish()
    }
}

/// Content-Type from a file extension (the common CDN media types).
pub fn content_type(key: &str) -> &'static str {
    let ext = key
        .rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "mp4" | "m4s" => "video/mp4",
        "webm" => "video/webm",
        "ts" => "video/mp2t",
        "m3u8" => "application/vnd.apple.mpegurl",
        "mpd" => "application/dash+xml",
        "mp3" => "audio/mpeg",
        "woff2" => "font/woff2",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        _ => "application/octet-stream",
    }
}

impl Cache {
    /// A cache with a region of `size` bytes; `root` is the content
    /// directory that `load` may read from (anything outside is refused).
    pub fn new(size: u64, root: Option<PathBuf>) -> Result<Cache, CacheError> {
        let region = Region::new(size as usize)
            .map_err(|e| CacheError(format!("cache region of {size} bytes: {e}")))?;
        Cache::with_region(region, root)
    }

    /// A cache over a region made by the caller (the node gives it memory
    /// its port can read by DMA, [`Region::from_static`]).
    pub fn with_region(region: Region, root: Option<PathBuf>) -> Result<Cache, CacheError> {
        let root = match root {
            Some(r) => Some(
                r.canonicalize()
                    .map_err(|e| CacheError(format!("[cache] dir {}: {e}", r.display())))?,
            ),
            None => None,
        };
        Ok(Cache {
            region: Arc::new(region),
            index: ArcSwap::from_pointee(HashMap::new()),
            root,
            load_lock: Mutex::new(()),
            stats: CacheStats::default(),
            epoch: AtomicU64::new(1),
        })
    }

    /// Looks up an object without taking a lock (the fast path).
    pub fn get(&self, key: &str) -> Option<Arc<Object>> {
        let idx = self.index.load();
        match idx.get(key) {
            Some(o) => {
                self.stats.hits.fetch_add(1, Ordering::Relaxed);
                o.last_used.store(
                    self.epoch.fetch_add(1, Ordering::Relaxed),
                    Ordering::Relaxed,
                );
                Some(o.clone())
            }
            None => {
                self.stats.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    /// Whether `key` is cached, without counting a hit or a miss (a
    /// backup checking whether it could serve a replicated response).
    pub fn contains(&self, key: &str) -> bool {
        self.index.load().contains_key(key)
    }

    /// Removes `key` from the index (an operator's purge). Connections
    /// serving it keep their reference until they are done; its region
    /// extent is freed after the last one. Returns whether it was cached.
    pub fn purge(&self, key: &str) -> Result<bool, CacheError> {
        let _guard = self
            .load_lock
            .lock()
            .map_err(|_| CacheError("cache loader poisoned".into()))?;
        if !self.index.load().contains_key(key) {
            return Ok(false);
        }
        let mut next: Index = (**self.index.load()).clone();
        next.remove(key);
        self.index.store(Arc::new(next));
        Ok(true)
    }

    /// Objects, sorted by key.
    pub fn objects(&self) -> Vec<Arc<Object>> {
        let mut v: Vec<_> = self.index.load().values().cloned().collect();
        v.sort_by(|a, b| a.key.cmp(&b.key));
        v
    }

    /// Region size, bytes used, and whether it is on hugepages.
    pub fn usage(&self) -> (usize, usize, bool) {
        (self.region.len(), self.region.used(), self.region.huge())
    }

    /// What the region's memory is, for `show cache` ([`Region::backing`]).
    pub fn backing(&self) -> &str {
        self.region.backing()
    }

    /// The content root, if any.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Loads every regular file under `dir` (which must be inside the
    /// content root when one is configured). Files already cached are
    /// replaced; least recently used objects are evicted to make room.
    pub fn load_dir(&self, dir: &Path) -> Result<LoadReport, CacheError> {
        let _guard = self
            .load_lock
            .lock()
            .map_err(|_| CacheError("cache loader poisoned".into()))?;
        let canon = dir
            .canonicalize()
            .map_err(|e| CacheError(format!("cache load {}: {e}", dir.display())))?;
        if !canon.is_dir() {
            return Err(CacheError(format!(
                "cache load {}: not a directory",
                dir.display()
            )));
        }
        let base = match &self.root {
            Some(root) if !canon.starts_with(root) => {
                return Err(CacheError(format!(
                    "cache load {}: outside the content directory {}",
                    dir.display(),
                    root.display()
                )))
            }
            Some(root) => root.clone(),
            None => canon.clone(),
        };
        let mut files = Vec::new();
        let mut report = LoadReport::default();
        walk(&canon, &base, &mut files, &mut report, 0);
        let mut next: Index = (**self.index.load()).clone();
        for (key, path) in files {
            match self.load_file(&key, &path, &mut next, &mut report) {
                Ok(obj) => {
                    report.loaded += 1;
                    report.bytes += obj.len();
                    next.insert(key, Arc::new(obj));
                }
                Err(e) => report.refused.push(e.0),
            }
        }
        self.index.store(Arc::new(next));
        for line in &report.refused {
            log::warn!("{line}");
        }
        Ok(report)
    }

    fn load_file(
        &self,
        key: &str,
        path: &Path,
        next: &mut Index,
        report: &mut LoadReport,
    ) -> Result<Object, CacheError> {
        let meta =
            std::fs::metadata(path).map_err(|e| CacheError(format!("{}: {e}", path.display())))?;
        let last_modified = meta
            .modified()
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let name = path.display().to_string();
        self.store(
            key,
            &name,
            meta.len() as usize,
            last_modified,
            next,
            report,
            |buf| {
                std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, buf))
            },
        )
    }

    /// Adds an object from memory (the overlay edge filling its cache from
    /// a gateway's answer) and publishes it at once. An object with the
    /// same key is replaced; readers of the old one keep it until done.
    pub fn insert(
        &self,
        key: &str,
        bytes: &[u8],
        last_modified: u64,
    ) -> Result<Arc<Object>, CacheError> {
        let _guard = self
            .load_lock
            .lock()
            .map_err(|_| CacheError("cache loader poisoned".into()))?;
        let mut next: Index = (**self.index.load()).clone();
        let mut report = LoadReport::default();
        let obj = Arc::new(self.store(
            key,
            key,
            bytes.len(),
            last_modified,
            &mut next,
            &mut report,
            |buf| {
                buf.copy_from_slice(bytes);
                Ok(())
            },
        )?);
        next.insert(key.to_string(), obj.clone());
        self.index.store(Arc::new(next));
        Ok(obj)
    }

    /// Places `len` bytes written by `fill` in the region (evicting least
    /// recently used objects for room) and describes them: strong ETag from
    /// SHA-256, Content-Type from the key's extension.
    #[allow(clippy::too_many_arguments)]
    fn store(
        &self,
        key: &str,
        name: &str,
        len: usize,
        last_modified: u64,
        next: &mut Index,
        report: &mut LoadReport,
        fill: impl FnOnce(&mut [u8]) -> std::io::Result<()>,
    ) -> Result<Object, CacheError> {
        if len > self.region.len() {
            return Err(CacheError(format!(
                "{name}: {len} bytes is larger than the cache region ({} bytes)",
                self.region.len()
            )));
        }
        // The object this one replaces stays until the new one is in place;
        // it frees its extent when the last reader drops it.
        let mut extent = loop {
            if let Some(e) = self.region.alloc(len) {
                break e;
            }
            if !self.evict_one(next, key) {
                return Err(CacheError(format!(
                    "{name}: no room for {len} bytes in the cache region"
                )));
            }
            report.evicted += 1;
        };
        let read = {
            let buf = self.region.write(&mut extent);
            fill(buf).map(|_| Sha256::digest(&*buf))
        };
        let digest = match read {
            Ok(d) => d,
            Err(e) => {
                self.region.release(&extent);
                return Err(CacheError(format!("{name}: {e}")));
            }
        };
        Ok(Object {
            key: key.to_string(),
            etag: format!("\"{}\"", hex(&digest[..16])),
            last_modified,
            content_type: content_type(key),
            extent,
            region: self.region.clone(),
            last_used: AtomicU64::new(self.epoch.fetch_add(1, Ordering::Relaxed)),
        })
    }

    /// Drops the least recently used object (other than `keep`) from the
    /// next index. Its memory returns once no reader holds it.
    fn evict_one(&self, next: &mut Index, keep: &str) -> bool {
        let victim = next
            .iter()
            .filter(|(k, _)| k.as_str() != keep)
            .min_by_key(|(_, o)| o.last_used.load(Ordering::Relaxed))
            .map(|(k, _)| k.clone());
        match victim {
            Some(k) => {
                next.remove(&k);
                // Publish at once so the extent can be reused as soon as readers finish.
                self.index.store(Arc::new(next.clone()));
                self.stats.evictions.fetch_add(1, Ordering::Relaxed);
                true
            }
            None => false,
        }
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Collects (key, path) of regular files under `dir`, refusing symlinks that
/// leave `base`, names that are not UTF-8 or contain a backslash or NUL, and
/// nesting deeper than 32 levels.
fn walk(
    dir: &Path,
    base: &Path,
    out: &mut Vec<(String, PathBuf)>,
    report: &mut LoadReport,
    depth: usize,
) {
    if depth > 32 {
        report
            .refused
            .push(format!("{}: nested too deep", dir.display()));
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        report
            .refused
            .push(format!("{}: cannot read the directory", dir.display()));
        return;
    };
    let mut entries: Vec<_> = rd.flatten().collect();
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let path = e.path();
        let Ok(real) = path.canonicalize() else {
            report
                .refused
                .push(format!("{}: dangling link", path.display()));
            continue;
        };
        if !real.starts_with(base) {
            report.refused.push(format!(
                "{}: points outside {}",
                path.display(),
                base.display()
            ));
            continue;
        }
        if real.is_dir() {
            walk(&path, base, out, report, depth + 1);
            continue;
        }
        if !real.is_file() {
            continue;
        }
        let Ok(rel) = path.strip_prefix(base).map(|p| p.to_path_buf()) else {
            continue;
        };
        match rel.to_str() {
            Some(k) if !k.contains('\\') && !k.contains('\0') && !k.is_empty() => {
                out.push((k.to_string(), real));
            }
            _ => report.refused.push(format!(
                "{}: name is not a plain UTF-8 path",
                path.display()
            )),
        }
    }
}

#[cfg(test)]
mod tests;
