use std::time::Instant;
fn main() {
    let dir = tempfile::tempdir().unwrap();
    let db = sled::Config::new().path(dir.path()).cache_capacity(128 << 20).mode(sled::Mode::HighThroughput).open().unwrap();
    let t = db.open_tree("t").unwrap();
    for (label, vsize, n, batch) in [("small random", 100usize, 200_000u64, 1000usize), ("1k random", 1000, 100_000, 1000), ("small seq", 100, 200_000, 1000), ("small random b100k", 100, 200_000, 100_000)] {
        t.clear().unwrap();
        let v = vec![7u8; vsize];
        let start = Instant::now();
        let mut b = sled::Batch::default();
        let mut c = 0;
        for i in 0..n {
            let k = if label.contains("seq") { format!("s/{i:020}") } else { format!("s/{}/{i:020}", uuid::Uuid::from_u128((i as u128).wrapping_mul(0x9E3779B97F4A7C15F39CC0605CEDC835))) };
            b.insert(k.as_bytes(), v.clone());
            c += 1;
            if c == batch { t.apply_batch(std::mem::take(&mut b)).unwrap(); c = 0; }
        }
        t.apply_batch(b).unwrap();
        let el = start.elapsed();
        println!("{label}: {:.2} us/key", el.as_secs_f64() * 1e6 / n as f64);
        // rewrite same keys (updates)
        let start = Instant::now();
        let mut b = sled::Batch::default();
        let mut c=0;
        for i in 0..n {
            let k = if label.contains("seq") { format!("s/{i:020}") } else { format!("s/{}/{i:020}", uuid::Uuid::from_u128((i as u128).wrapping_mul(0x9E3779B97F4A7C15F39CC0605CEDC835))) };
            b.insert(k.as_bytes(), v.clone());
            c += 1;
            if c == batch { t.apply_batch(std::mem::take(&mut b)).unwrap(); c = 0; }
        }
        t.apply_batch(b).unwrap();
        println!("{label} update: {:.2} us/key", start.elapsed().as_secs_f64() * 1e6 / n as f64);
    }
}
