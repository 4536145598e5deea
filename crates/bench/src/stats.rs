//! Latency histograms, the closed-loop writer harness and result types.

use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use hdrhistogram::Histogram;
use serde_json::{json, Value};

/// A latency histogram in microseconds, 1 µs to 60 s, 3 significant digits.
pub fn new_hist() -> Histogram<u64> {
    // Bounds are constants that hdrhistogram accepts.
    Histogram::new_with_bounds(1, 60_000_000, 3).expect("valid histogram bounds")
}

/// Records one latency, clamped into the histogram's range.
pub fn record(hist: &mut Histogram<u64>, d: Duration) {
    let us = (d.as_micros() as u64).clamp(1, 60_000_000);
    hist.saturating_record(us);
}

/// Throughput and latency of one measured run.
#[derive(Debug, Clone)]
pub struct Figures {
    /// Operations (events, reads…) completed in the measured window.
    pub ops: u64,
    /// Length of the measured window.
    pub elapsed: Duration,
    /// Latency percentiles in microseconds.
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub mean_us: f64,
}

impl Figures {
    pub fn from_hist(ops: u64, elapsed: Duration, hist: &Histogram<u64>) -> Self {
        Figures {
            ops,
            elapsed,
            p50_us: hist.value_at_quantile(0.50),
            p99_us: hist.value_at_quantile(0.99),
            p999_us: hist.value_at_quantile(0.999),
            max_us: hist.max(),
            mean_us: hist.mean(),
        }
    }

    pub fn per_sec(&self) -> f64 {
        self.ops as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    pub fn json(&self) -> Value {
        json!({
            "ops": self.ops,
            "seconds": round3(self.elapsed.as_secs_f64()),
            "per_sec": self.per_sec().round(),
            "p50_us": self.p50_us,
            "p99_us": self.p99_us,
            "p999_us": self.p999_us,
            "max_us": self.max_us,
            "mean_us": round3(self.mean_us),
        })
    }

    /// One human-readable line.
    pub fn line(&self, label: &str, unit: &str) -> String {
        format!(
            "{label:<34} {:>10.0} {unit}/s   p50 {:>8}   p99 {:>8}   p99.9 {:>8}   ({} in {:.1} s)",
            self.per_sec(),
            fmt_us(self.p50_us),
            fmt_us(self.p99_us),
            fmt_us(self.p999_us),
            self.ops,
            self.elapsed.as_secs_f64()
        )
    }
}

pub fn fmt_us(us: u64) -> String {
    if us >= 10_000 {
        format!("{:.1} ms", us as f64 / 1000.0)
    } else {
        format!("{us} µs")
    }
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// A boxed future, so that writers of different engines share one harness.
pub type BoxFut<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One closed-loop writer: it commits one event, waits for the acknowledgement,
/// then commits the next.
pub trait Writer: Send + 'static {
    /// Commits the writer's event number `seq` (0, 1, 2, …) durably.
    fn write(&mut self, seq: u64) -> BoxFut<'_, Result<()>>;
}

/// How long to run one level: an unmeasured warm-up, then the measured window.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub warmup: Duration,
    pub measure: Duration,
}

/// Runs every writer as its own tokio task until the window closes; counts and
/// times the acknowledgements that arrive inside the measured window.
pub async fn drive<W: Writer>(writers: Vec<W>, window: Window) -> Result<Figures> {
    let start = Instant::now();
    let from = start + window.warmup;
    let until = from + window.measure;
    let mut tasks = Vec::with_capacity(writers.len());
    for mut w in writers {
        tasks.push(tokio::spawn(async move {
            let mut hist = new_hist();
            let mut ops = 0u64;
            let mut seq = 0u64;
            loop {
                let t0 = Instant::now();
                if t0 >= until {
                    break;
                }
                w.write(seq).await?;
                seq += 1;
                let t1 = Instant::now();
                if t1 >= from && t1 <= until {
                    record(&mut hist, t1 - t0);
                    ops += 1;
                }
            }
            anyhow::Ok((hist, ops))
        }));
    }
    let mut hist = new_hist();
    let mut ops = 0;
    for t in tasks {
        let (h, n) = t.await.context("writer task panicked")??;
        hist.add(&h).context("merging histograms")?;
        ops += n;
    }
    Ok(Figures::from_hist(ops, window.measure, &hist))
}

/// A 256-byte payload that does not compress to nothing.
pub fn payload(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            b'a' + (x % 26) as u8
        })
        .collect()
}
