//! Loading, lookup, eviction and path rules, on temporary directories.

use super::*;
use std::fs;

fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("anyedge-cache-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn loads_a_tree_and_serves_it_by_key() {
    let d = tmpdir("tree");
    fs::create_dir_all(d.join("a")).unwrap();
    fs::write(d.join("a/b.bin"), vec![7u8; 10_000]).unwrap();
    fs::write(d.join("index.html"), b"<h1>hi</h1>").unwrap();
    let c = Cache::new(1 << 20, Some(d.clone())).unwrap();
    let r = c.load_dir(&d).unwrap();
    assert_eq!((r.loaded, r.bytes), (2, 10_011));
    let o = c.get("a/b.bin").unwrap();
    assert_eq!(o.len(), 10_000);
    assert!(o.bytes().iter().all(|&b| b == 7));
    assert_eq!(o.content_type, "application/octet-stream");
    assert!(o.etag.starts_with('"') && o.etag.len() == 34);
    assert_eq!(
        c.get("index.html").unwrap().content_type,
        "text/html; charset=utf-8"
    );
    assert!(c.get("missing").is_none());
    assert_eq!(c.stats.hits.load(Ordering::Relaxed), 2);
    assert_eq!(c.stats.misses.load(Ordering::Relaxed), 1);
    // The same content gives the same strong ETag.
    let again = Cache::new(1 << 20, None).unwrap();
    again.load_dir(&d).unwrap();
    assert_eq!(again.get("a/b.bin").unwrap().etag, o.etag);
}

#[test]
fn a_served_object_survives_its_replacement() {
    let d = tmpdir("replace");
    fs::write(d.join("f"), b"old contents").unwrap();
    let c = Cache::new(1 << 20, Some(d.clone())).unwrap();
    c.load_dir(&d).unwrap();
    let held = c.get("f").unwrap();
    fs::write(d.join("f"), b"new contents!").unwrap();
    c.load_dir(&d).unwrap();
    assert_eq!(
        held.bytes(),
        b"old contents",
        "a reader keeps what it started with"
    );
    assert_eq!(c.get("f").unwrap().bytes(), b"new contents!");
    let used_both = c.usage().1;
    drop(held);
    assert!(
        c.usage().1 < used_both,
        "the old extent is freed with its last reader"
    );
}

#[test]
fn least_recently_used_objects_make_room() {
    let d = tmpdir("lru");
    for i in 0..4 {
        fs::write(d.join(format!("o{i}")), vec![i as u8; 300_000]).unwrap();
    }
    // Room for three of them.
    let c = Cache::new(1 << 20, Some(d.clone())).unwrap();
    let r = c.load_dir(&d).unwrap();
    assert_eq!(r.loaded, 4);
    assert_eq!(r.evicted, 1);
    assert!(c.get("o0").is_none(), "the oldest went first");
    assert!(c.get("o1").is_some());
    // Touch o1 and o3: loading o9 now evicts o2, the least recently used.
    c.get("o1");
    c.get("o3");
    let more = tmpdir("lru-more");
    fs::write(more.join("o9"), vec![9u8; 300_000]).unwrap();
    let c2 = Cache::new(1 << 20, None).unwrap();
    c2.load_dir(&d).unwrap();
    c2.get("o1");
    c2.get("o3");
    c2.load_dir(&more).unwrap();
    assert!(c2.get("o2").is_none() && c2.get("o1").is_some() && c2.get("o9").is_some());
    assert_eq!(c.stats.evictions.load(Ordering::Relaxed), 1);
}

#[test]
fn refuses_what_leaves_the_directory_or_does_not_fit() {
    let outside = tmpdir("outside");
    fs::write(outside.join("secret"), b"s").unwrap();
    let d = tmpdir("root");
    fs::write(d.join("ok"), b"fine").unwrap();
    std::os::unix::fs::symlink(outside.join("secret"), d.join("link")).unwrap();
    std::os::unix::fs::symlink(&outside, d.join("dirlink")).unwrap();
    fs::write(d.join("huge"), vec![0u8; 3 << 20]).unwrap();
    let c = Cache::new(2 << 20, Some(d.clone())).unwrap();
    let r = c.load_dir(&d).unwrap();
    assert_eq!(r.loaded, 1);
    assert!(c.get("link").is_none() && c.get("dirlink/secret").is_none());
    let refused = r.refused.join("\n");
    assert!(refused.contains("link: points outside"), "{refused}");
    assert!(
        refused.contains("is larger than the cache region"),
        "{refused}"
    );
    let e = c.load_dir(&outside).unwrap_err().0;
    assert!(e.contains("outside the content directory"), "{e}");
    let e = c.load_dir(&d.join("../../../../etc")).unwrap_err().0;
    assert!(e.contains("outside the content directory"), "{e}");
    assert!(c
        .load_dir(Path::new("/nonexistent/dir"))
        .unwrap_err()
        .0
        .contains("No such file"));
}

#[test]
fn objects_inserted_from_memory_are_served_and_replace_older_ones() {
    let c = Cache::new(1 << 20, None).unwrap();
    let a = c.insert("fill/a.bin", &[1u8; 1000], 7).unwrap();
    assert_eq!(c.get("fill/a.bin").unwrap().bytes(), &[1u8; 1000][..]);
    assert_eq!(a.last_modified, 7);
    assert_eq!(a.content_type, "application/octet-stream");
    let b = c.insert("fill/a.bin", &[2u8; 10], 8).unwrap();
    assert_ne!(a.etag, b.etag, "the ETag follows the content");
    // The replaced object stays readable for whoever still holds it.
    assert_eq!(a.bytes(), &[1u8; 1000][..]);
    assert_eq!(c.get("fill/a.bin").unwrap().bytes(), &[2u8; 10][..]);
    assert!(c.insert("huge", &vec![0u8; 2 << 20], 0).is_err());
}

#[test]
fn a_purged_object_is_gone_from_the_index_but_readable_by_its_holders() {
    let c = Cache::new(1 << 20, None).unwrap();
    let a = c.insert("p/a.bin", &vec![3u8; 700 << 10], 1).unwrap();
    let misses = c.stats.misses.load(std::sync::atomic::Ordering::Relaxed);
    assert!(c.contains("p/a.bin") && !c.contains("p/b.bin"));
    assert_eq!(
        c.stats.misses.load(std::sync::atomic::Ordering::Relaxed),
        misses,
        "contains counts no miss"
    );
    assert!(c.purge("p/a.bin").unwrap());
    assert!(!c.purge("p/a.bin").unwrap(), "a second purge finds nothing");
    assert!(c.get("p/a.bin").is_none() && !c.contains("p/a.bin"));
    assert!(
        a.bytes().iter().all(|&b| b == 3),
        "a holder keeps its bytes"
    );
    drop(a);
    // The extent came back: another 700 KiB fits the 1 MiB region (with
    // nothing left to evict, it could not otherwise).
    assert!(c.insert("p/b.bin", &vec![1u8; 700 << 10], 2).is_ok());
}
