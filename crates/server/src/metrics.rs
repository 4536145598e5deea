//! Counters for `/metrics`, in the Prometheus text format (OpenMetrics).
//!
//! Labels carry route templates (`/v1/cases/{id}`), never a real id or any
//! personal value, and come from closed sets: no label is built from client input.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProjectionLabels {
    projection: String,
}

/// The server's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram>,
    commits: Counter,
    events: Counter,
    conflicts: Counter,
    access_records: Counter,
    head: Gauge,
    lag: Family<ProjectionLabels, Gauge>,
    deadlines_armed: Gauge,
    deadlines_fired: Gauge,
    deadlines_overdue: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Registers every metric.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("ecoute");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template and status",
            requests.clone(),
        );
        let latency = Family::<RouteLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(0.000_25, 2.0, 16))
        });
        registry.register(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            latency.clone(),
        );
        let commits = Counter::default();
        registry.register(
            "commits",
            "Commits appended to the event log",
            commits.clone(),
        );
        let events = Counter::default();
        registry.register(
            "events_appended",
            "Events appended to the event log",
            events.clone(),
        );
        let conflicts = Counter::default();
        registry.register(
            "command_conflicts",
            "Commands that lost a race and were tried again",
            conflicts.clone(),
        );
        let access_records = Counter::default();
        registry.register(
            "access_records",
            "Records written to the access log",
            access_records.clone(),
        );
        let head = Gauge::default();
        registry.register("log_head", "Events in the log", head.clone());
        let lag = Family::<ProjectionLabels, Gauge>::default();
        registry.register(
            "projection_lag_events",
            "Events a projection is behind the log",
            lag.clone(),
        );
        let deadlines_armed = Gauge::default();
        registry.register(
            "deadlines_armed",
            "Deadlines armed and not yet kept nor missed",
            deadlines_armed.clone(),
        );
        let deadlines_fired = Gauge::default();
        registry.register(
            "deadlines_fired",
            "Deadlines missed since the beginning",
            deadlines_fired.clone(),
        );
        let deadlines_overdue = Gauge::default();
        registry.register(
            "deadlines_overdue",
            "Deadlines missed and not kept yet",
            deadlines_overdue.clone(),
        );
        Metrics {
            deadlines_armed,
            deadlines_fired,
            deadlines_overdue,
            registry,
            requests,
            latency,
            commits,
            events,
            conflicts,
            access_records,
            head,
            lag,
        }
    }

    /// One answered request; `route` is a route template or `unmatched`.
    pub fn request(&self, method: &axum::http::Method, route: &str, status: u16, seconds: f64) {
        let method = method_label(method);
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_owned(),
                route: route.to_owned(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_owned(),
                route: route.to_owned(),
            })
            .observe(seconds);
    }

    /// One commit of `events` events.
    pub fn commit(&self, events: u64) {
        self.commits.inc();
        self.events.inc_by(events);
    }

    /// One command that lost a race.
    pub fn conflict(&self) {
        self.conflicts.inc();
    }

    /// One access record written.
    pub fn access_record(&self) {
        self.access_records.inc();
    }

    /// The deadline counts as of now.
    pub fn deadlines(&self, armed: u64, fired: u64, overdue: u64) {
        let g = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
        self.deadlines_armed.set(g(armed));
        self.deadlines_fired.set(g(fired));
        self.deadlines_overdue.set(g(overdue));
    }

    /// The text exposition, with the log head and projection lags as of now.
    pub fn render(&self, head: u64, lags: impl IntoIterator<Item = (String, u64)>) -> String {
        self.head.set(i64::try_from(head).unwrap_or(i64::MAX));
        for (projection, lag) in lags {
            self.lag
                .get_or_create(&ProjectionLabels { projection })
                .set(i64::try_from(lag).unwrap_or(i64::MAX));
        }
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &self.registry);
        out
    }
}

/// The name of a request's method among a closed set: a made-up method is `OTHER`,
/// so a client cannot create a series (or a log field) of its own.
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
}

#[cfg(test)]
mod tests {
    use super::method_label;
    use axum::http::Method;

    #[test]
    fn methods_are_named_from_a_closed_set() {
        let check = |method: &str, expected: &str| {
            let m = Method::from_bytes(method.as_bytes()).unwrap();
            assert_eq!(method_label(&m), expected, "{method}");
        };
        check("GET", "GET");
        check("DELETE", "DELETE");
        check("OPTIONS", "OPTIONS");
        check("get", "OTHER");
        check("TRACE", "OTHER");
        check("CONNECT", "OTHER");
        check("X-MADE-UP", "OTHER");
    }
}
