use std::io::Write;
use std::os::unix::fs::FileExt;
use std::time::Instant;
fn main() {
    let dir = std::path::Path::new("/work/main/target/bench-tmp");
    std::fs::create_dir_all(dir).unwrap();
    let n = 2000;
    let buf = vec![1u8; 300];
    // growing
    let p = dir.join("grow");
    let _ = std::fs::remove_file(&p);
    let mut f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&p).unwrap();
    let t = Instant::now();
    for _ in 0..n { f.write_all(&buf).unwrap(); f.sync_data().unwrap(); }
    println!("append+fdatasync: {:.0} us", t.elapsed().as_secs_f64()*1e6/n as f64);
    // preallocated zero-filled
    let p = dir.join("pre");
    let f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&p).unwrap();
    f.write_all_at(&vec![0u8; 4<<20], 0).unwrap(); f.sync_all().unwrap();
    let t = Instant::now();
    let mut off = 0u64;
    for _ in 0..n { f.write_all_at(&buf, off).unwrap(); off += 300; f.sync_data().unwrap(); }
    println!("prealloc overwrite+fdatasync: {:.0} us", t.elapsed().as_secs_f64()*1e6/n as f64);
    // fallocate
    let p = dir.join("fall");
    let f = std::fs::OpenOptions::new().create(true).write(true).truncate(true).open(&p).unwrap();
    f.set_len(4<<20).unwrap(); f.sync_all().unwrap();
    let t = Instant::now();
    let mut off = 0u64;
    for _ in 0..n { f.write_all_at(&buf, off).unwrap(); off += 300; f.sync_data().unwrap(); }
    println!("sparse set_len overwrite+fdatasync: {:.0} us", t.elapsed().as_secs_f64()*1e6/n as f64);
}
