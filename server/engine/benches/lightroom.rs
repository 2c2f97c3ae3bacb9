//! Importing a big Lightroom catalog: 100,000 photos (1,000 folders; three keywords each from a
//! three-level hierarchy of 600, a title on every third, a collection on every tenth) into a
//! Trove catalog that has indexed the same 100,000 files, so every photo is matched by path and
//! its keyword row rebuilt. Then the same import again (what a re-import after a change costs).
//!
//! `cargo bench -p trove-engine --bench lightroom [-- PHOTOS]`; prints one JSON object. Making
//! the two catalogs is not timed.

use std::path::Path;
use std::time::Instant;

use trove_engine::catalog::Catalog;
use trove_engine::lightroom::fixture::{Builder, Photo, Release};
use trove_engine::lightroom::import;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    let photos: u64 = args.first().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let root = Path::new("/Volumes/Archive/Photos");

    // Trove's side: the files, as a crawl would have recorded them.
    let t = Instant::now();
    let trove_path = dir.path().join("catalog.db");
    drop(Catalog::open(&trove_path).expect("catalog"));
    let conn = rusqlite::Connection::open(&trove_path).expect("opens");
    conn.execute_batch("BEGIN").expect("begins");
    conn.execute(
        "INSERT INTO roots (id, path, added_at) VALUES (1, ?1, 0)",
        [root.as_os_str().as_encoded_bytes()],
    )
    .expect("root");
    {
        let mut image = conn
            .prepare(
                "INSERT INTO images (id, hash, format, width, height, bytes, added_at)
                 VALUES (?1, ?2, 'jpeg', 6000, 4000, 12000000, 0)",
            )
            .expect("prepares");
        let mut file = conn
            .prepare(
                "INSERT INTO files (root_id, path, size, mtime_ns, inode, image_id, seen_crawl)
                 VALUES (1, ?1, 12000000, 0, ?2, ?2, 1)",
            )
            .expect("prepares");
        for i in 0..photos {
            let id = i as i64 + 1;
            let mut hash = [0u8; 32];
            hash[..8].copy_from_slice(&i.to_le_bytes());
            image
                .execute(rusqlite::params![id, hash.to_vec()])
                .expect("image");
            let path = root.join(folder(i)).join(name(i));
            file.execute(rusqlite::params![path.as_os_str().as_encoded_bytes(), id])
                .expect("file");
        }
    }
    conn.execute_batch("COMMIT").expect("commits");
    drop(conn);
    let trove_s = t.elapsed().as_secs_f64();

    // Lightroom's side.
    let t = Instant::now();
    let lrcat = dir.path().join("Archive.lrcat");
    let mut b = Builder::new(&lrcat, root, Release::Classic14).expect("catalog");
    for i in 0..photos {
        let k = |n: u64| format!("Subjects|Group {}|Topic {}", n % 6, n % 600);
        b.photo(&Photo {
            folder: folder(i),
            name: name(i),
            capture: Some(format!("2019-{:02}-{:02}T10:00:00", i % 12 + 1, i % 28 + 1)),
            rating: Some((i % 6) as u8).filter(|r| *r > 0),
            pick: if i % 9 == 0 { 1 } else { 0 },
            title: (i % 3 == 0).then(|| format!("Photo number {i}")),
            keywords: vec![k(i), k(i * 7 + 1), k(i * 13 + 2)],
            collections: if i % 10 == 0 {
                vec![format!("Years/{}", 2000 + i % 20)]
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .expect("photo");
    }
    drop(b);
    let lightroom_s = t.elapsed().as_secs_f64();

    let mut catalog = Catalog::open(&trove_path).expect("catalog");
    let t = Instant::now();
    let stand_ins = dir.path().join("stand-ins");
    let first = import(&mut catalog, &lrcat, &stand_ins).expect("imports");
    let import_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let again = import(&mut catalog, &lrcat, &stand_ins).expect("imports again");
    let reimport_s = t.elapsed().as_secs_f64();
    assert_eq!(first.counts.by_path, photos);
    assert_eq!(again.counts.by_path, photos);
    println!(
        "{}",
        serde_json::json!({
            "photos": photos,
            "matched_by_path": first.counts.by_path,
            "import_s": import_s,
            "reimport_s": reimport_s,
            "photos_per_s": photos as f64 / import_s,
            "setup_trove_s": trove_s,
            "setup_lightroom_s": lightroom_s,
            "threads": std::thread::available_parallelism().map_or(1, |n| n.get()),
        })
    );
}

fn folder(i: u64) -> String {
    format!("{}/{:03}", 2000 + (i / 1000) % 20, i / 1000)
}

fn name(i: u64) -> String {
    format!("DSC_{i:06}.NEF")
}
