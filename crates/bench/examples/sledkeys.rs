//! What one sled key costs: inserting new keys (in 1,000-key batches, and one
//! by one) and overwriting them, for small and 1 KB values, random and
//! sequential keys. The read models' rebuild speed is bound by these figures
//! (see docs/benchmarks.md, "Projections").
//!
//! `cargo run --release -p ecoute-bench --example sledkeys`

use std::time::Instant;

fn key(i: u64, sequential: bool) -> String {
    if sequential {
        format!("s/{i:020}")
    } else {
        let spread = (u128::from(i)).wrapping_mul(0x9E37_79B9_7F4A_7C15_F39C_C060_5CED_C835);
        format!("s/{}/{i:020}", uuid::Uuid::from_u128(spread))
    }
}

fn per_key(start: Instant, n: u64) -> f64 {
    start.elapsed().as_secs_f64() * 1e6 / n as f64
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let db = sled::Config::new()
        .path(dir.path())
        .cache_capacity(128 << 20)
        .open()?;
    let t = db.open_tree("t")?;
    let n = 100_000u64;
    for sequential in [false, true] {
        for size in [100usize, 1000] {
            let v = vec![7u8; size];
            t.clear()?;
            let start = Instant::now();
            let mut b = sled::Batch::default();
            for i in 0..n {
                b.insert(key(i, sequential).as_bytes(), v.clone());
                if i % 1000 == 999 {
                    t.apply_batch(std::mem::take(&mut b))?;
                }
            }
            t.apply_batch(b)?;
            let batch = per_key(start, n);
            t.clear()?;
            let start = Instant::now();
            for i in 0..n {
                t.insert(key(i, sequential).as_bytes(), v.clone())?;
            }
            let single = per_key(start, n);
            let start = Instant::now();
            for i in 0..n {
                t.insert(key(i, sequential).as_bytes(), v.clone())?;
            }
            let overwrite = per_key(start, n);
            let order = if sequential { "sequential" } else { "random" };
            println!(
                "{order} keys, {size} B values: new key in a batch {batch:.1} µs, new key alone {single:.1} µs, overwrite {overwrite:.1} µs"
            );
        }
    }
    Ok(())
}
