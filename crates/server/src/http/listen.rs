//! The accept loop: HTTP/1.1 connections under a cap, each with a header-read and
//! an idle timeout, and a shutdown that waits a bounded time for them.
//!
//! axum's `serve` exposes none of these limits, so connections are served with
//! hyper's own `http1` builder here.

use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;
use tokio::time::Instant;

use super::HttpConfig;

/// How much more than the configured header limits hyper's parser accepts before it
/// answers a bare 431 itself: below that, the request reaches `limits.rs`,
/// which answers a problem document.
pub(crate) const PARSER_HEADROOM: usize = 16;

/// Serves `router` on `listener` until `stop` resolves; then stops accepting, asks
/// every connection to finish its request in flight, and drops those still open
/// after `config.shutdown_grace`.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    config: HttpConfig,
    stop: impl std::future::Future<Output = ()>,
) -> std::io::Result<()> {
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let (closing, closing_seen) = watch::channel(false);
    let mut connections = JoinSet::new();
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .max_headers(config.max_headers.saturating_mul(PARSER_HEADROOM))
        .max_header_size(config.max_header_bytes.saturating_mul(PARSER_HEADROOM));
    let builder = Arc::new(builder);
    tokio::pin!(stop);
    loop {
        // Over the cap, the next connection is not accepted: it waits in the
        // kernel's backlog until one closes.
        let slot = tokio::select! {
            () = &mut stop => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = &mut stop => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was
                    // accepted: wait a little rather than spin.
                    tracing::warn!(error = %e, "could not accept a connection");
                    tokio::select! {
                        () = &mut stop => break,
                        () = tokio::time::sleep(Duration::from_millis(100)) => continue,
                    }
                }
            },
        };
        while connections.try_join_next().is_some() {}
        let builder = builder.clone();
        let service = TowerToHyperService::new(router.clone());
        let mut closing = closing_seen.clone();
        let idle = config.idle_timeout;
        connections.spawn(async move {
            let _slot = slot;
            let (io, moved) = Watched::new(stream);
            let conn = builder.serve_connection(TokioIo::new(io), service);
            tokio::pin!(conn);
            let mut asked_to_close = false;
            loop {
                let quiet_until = moved.last() + idle;
                tokio::select! {
                    _ = conn.as_mut() => break,
                    changed = closing.changed(), if !asked_to_close => {
                        asked_to_close = true;
                        if changed.is_ok() {
                            conn.as_mut().graceful_shutdown();
                        }
                    }
                    () = tokio::time::sleep_until(quiet_until) => {
                        if moved.last() + idle <= Instant::now() {
                            // Nothing read or written for `idle`: drop it.
                            break;
                        }
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = closing.send(true);
    let finished = tokio::time::timeout(config.shutdown_grace, async {
        while connections.join_next().await.is_some() {}
    })
    .await;
    if finished.is_err() {
        tracing::warn!(
            open = connections.len(),
            "connections still open after the shutdown grace; dropped"
        );
        connections.shutdown().await;
    }
    Ok(())
}

/// A connection that notes when a byte last moved either way.
struct Watched {
    stream: TcpStream,
    moved: Moved,
}

/// When a byte last moved on a connection.
#[derive(Clone)]
struct Moved {
    start: Instant,
    /// Milliseconds from `start`.
    at: Arc<AtomicU64>,
}

impl Moved {
    fn touch(&self) {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.at.store(ms, Ordering::Relaxed);
    }

    fn last(&self) -> Instant {
        self.start + Duration::from_millis(self.at.load(Ordering::Relaxed))
    }
}

impl Watched {
    fn new(stream: TcpStream) -> (Watched, Moved) {
        let moved = Moved {
            start: Instant::now(),
            at: Arc::new(AtomicU64::new(0)),
        };
        (
            Watched {
                stream,
                moved: moved.clone(),
            },
            moved,
        )
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.moved.touch();
        }
        polled
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, buf);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.moved.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
