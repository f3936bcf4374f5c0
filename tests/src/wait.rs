//! Polling waits on the receiver: block the test thread until something arrives or time out.

use std::time::{Duration, Instant};

use crate::{
    received::{ReceivedLog, ReceivedMetric, ReceivedSpan},
    receiver::OtlpReceiver,
    store::RecordedRequest,
};

/// How often the waits re-check the recorded data.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

impl OtlpReceiver {
    /// Polls `check` every ~20 ms until it returns `Some`, or returns `None` once `timeout` has
    /// passed. `check` always runs at least once, and once more at the deadline.
    ///
    /// Use this for negative checks ("nothing named X arrives within 500 ms").
    pub fn try_wait_until<T>(
        &self,
        timeout: Duration,
        mut check: impl FnMut(&OtlpReceiver) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(found) = check(self) {
                return Some(found);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            std::thread::sleep(POLL_INTERVAL.min(deadline - now));
        }
    }

    /// Polls `check` every ~20 ms until it returns `Some`; panics at the deadline with a
    /// summary of everything that did arrive.
    pub fn wait_until<T>(
        &self,
        timeout: Duration,
        check: impl FnMut(&OtlpReceiver) -> Option<T>,
    ) -> T {
        self.wait_or_panic(timeout, "the wait_until condition", check)
    }

    fn wait_or_panic<T>(
        &self,
        timeout: Duration,
        what: &str,
        check: impl FnMut(&OtlpReceiver) -> Option<T>,
    ) -> T {
        match self.try_wait_until(timeout, check) {
            Some(found) => found,
            None => panic!(
                "timed out after {timeout:?} waiting for {what}; {}",
                self.summary()
            ),
        }
    }

    /// Waits for the first span named `name`; panics at the deadline listing the span names
    /// that did arrive.
    pub fn wait_for_span(&self, name: &str, timeout: Duration) -> ReceivedSpan {
        self.wait_or_panic(timeout, &format!("span {name:?}"), |r| {
            r.spans().into_iter().find(|s| s.name() == name)
        })
    }

    /// Waits until at least `count` received spans satisfy `predicate`, and returns all
    /// matching spans (in arrival order).
    pub fn wait_for_spans(
        &self,
        predicate: impl Fn(&ReceivedSpan) -> bool,
        count: usize,
        timeout: Duration,
    ) -> Vec<ReceivedSpan> {
        self.wait_or_panic(timeout, &format!("{count} matching spans"), |r| {
            let mut spans = r.spans();
            spans.retain(|s| predicate(s));
            (spans.len() >= count).then_some(spans)
        })
    }

    /// Waits for metric `name` and returns its latest received instance (cumulative metrics
    /// are re-sent every interval); panics at the deadline listing the metric names that did
    /// arrive.
    pub fn wait_for_metric(&self, name: &str, timeout: Duration) -> ReceivedMetric {
        self.wait_or_panic(timeout, &format!("metric {name:?}"), |r| {
            r.latest_metric(name)
        })
    }

    /// Waits until the latest received instance of metric `name` satisfies `predicate` (e.g. a
    /// counter reached a value) and returns it.
    pub fn wait_for_metric_where(
        &self,
        name: &str,
        predicate: impl Fn(&ReceivedMetric) -> bool,
        timeout: Duration,
    ) -> ReceivedMetric {
        self.wait_or_panic(
            timeout,
            &format!("metric {name:?} matching the predicate"),
            |r| r.latest_metric(name).filter(|m| predicate(m)),
        )
    }

    /// Waits for the first log record satisfying `predicate`.
    pub fn wait_for_log(
        &self,
        predicate: impl Fn(&ReceivedLog) -> bool,
        timeout: Duration,
    ) -> ReceivedLog {
        self.wait_or_panic(timeout, "a matching log record", |r| {
            r.logs().into_iter().find(|l| predicate(l))
        })
    }

    /// Waits until at least `count` requests were accepted and returns all of them.
    pub fn wait_for_requests(&self, count: usize, timeout: Duration) -> Vec<RecordedRequest> {
        self.wait_or_panic(timeout, &format!("{count} requests"), |r| {
            let requests = r.requests();
            (requests.len() >= count).then_some(requests)
        })
    }
}

#[cfg(test)]
mod tests {
    use std::{
        panic::{AssertUnwindSafe, catch_unwind},
        time::{Duration, Instant},
    };

    use prost::Message;

    use crate::{
        OtlpReceiver, number_i64,
        testutil::{http_post, metrics_request, trace_request},
    };

    const PROTOBUF: [(&str, &str); 1] = [("content-type", "application/x-protobuf")];

    fn post_metrics(receiver: &OtlpReceiver, value: i64) {
        let body = metrics_request(value).encode_to_vec();
        assert_eq!(
            http_post(receiver.addr(), "/v1/metrics", &PROTOBUF, &body).0,
            200
        );
    }

    fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default()
    }

    #[test]
    fn wait_for_span_sees_late_arrivals() {
        let receiver = OtlpReceiver::http();
        let addr = receiver.addr();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(150));
            let body = trace_request().encode_to_vec();
            http_post(addr, "/v1/traces", &PROTOBUF, &body).0
        });
        let span = receiver.wait_for_span("preprocess", Duration::from_secs(5));
        assert_eq!(span.name(), "preprocess");
        assert_eq!(sender.join().expect("sender thread"), 200);

        let both = receiver.wait_for_spans(
            |s| s.trace_id_hex() == span.trace_id_hex(),
            2,
            Duration::from_secs(1),
        );
        assert_eq!(both.len(), 2);
        assert_eq!(receiver.spans_named("predict").len(), 1);
        assert_eq!(receiver.span_names(), ["predict", "preprocess"]);
    }

    #[test]
    fn wait_for_span_timeout_lists_what_arrived() {
        let receiver = OtlpReceiver::http();
        let body = trace_request().encode_to_vec();
        assert_eq!(
            http_post(receiver.addr(), "/v1/traces", &PROTOBUF, &body).0,
            200
        );

        let started = Instant::now();
        let payload = catch_unwind(AssertUnwindSafe(|| {
            receiver.wait_for_span("missing", Duration::from_millis(100))
        }))
        .expect_err("waiting for a span that never arrives must panic");
        assert!(started.elapsed() >= Duration::from_millis(100));
        let message = panic_message(payload);
        assert!(message.contains("span \"missing\""), "{message}");
        assert!(message.contains("\"predict\""), "{message}");
        assert!(message.contains("\"preprocess\""), "{message}");

        let payload = catch_unwind(AssertUnwindSafe(|| {
            receiver.wait_for_metric("nope", Duration::from_millis(50))
        }))
        .expect_err("waiting for a metric that never arrives must panic");
        assert!(panic_message(payload).contains("metric \"nope\""));
    }

    #[test]
    fn wait_for_metric_returns_latest_instance() {
        let receiver = OtlpReceiver::http();
        post_metrics(&receiver, 1);
        post_metrics(&receiver, 5);

        let metric = receiver.wait_for_metric("requests", Duration::from_secs(5));
        let point = metric.sum_point(&[("model", "iris")]).expect("iris point");
        assert_eq!(number_i64(point), Some(5));
        assert_eq!(receiver.metrics().len(), 4);
        assert_eq!(receiver.metric_names(), ["latency", "requests"]);

        let addr = receiver.addr();
        let sender = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(100));
            let body = metrics_request(8).encode_to_vec();
            http_post(addr, "/v1/metrics", &PROTOBUF, &body).0
        });
        let reached = receiver.wait_for_metric_where(
            "requests",
            |m| {
                m.sum_point(&[("model", "iris")])
                    .and_then(number_i64)
                    .is_some_and(|v| v >= 8)
            },
            Duration::from_secs(5),
        );
        assert_eq!(
            reached.sum_point(&[("model", "iris")]).and_then(number_i64),
            Some(8)
        );
        assert_eq!(sender.join().expect("sender thread"), 200);
    }

    #[test]
    fn try_wait_until_and_clear() {
        let receiver = OtlpReceiver::http();
        let started = Instant::now();
        let nothing = receiver.try_wait_until(Duration::from_millis(60), |r| r.spans().pop());
        assert!(nothing.is_none());
        assert!(started.elapsed() >= Duration::from_millis(60));

        post_metrics(&receiver, 2);
        let count = receiver.wait_until(Duration::from_secs(5), |r| {
            let n = r.metrics().len();
            (n > 0).then_some(n)
        });
        assert_eq!(count, 2);
        assert!(
            receiver.summary().contains("1 requests"),
            "{}",
            receiver.summary()
        );

        receiver.clear();
        assert_eq!(receiver.request_count(), 0);
        assert!(receiver.metrics().is_empty());
        assert!(receiver.latest_metric("requests").is_none());
    }
}
