//! Tracing setup shared by every process: JSON logs (with the span fields that carry the
//! request id and job id), level from `RUST_LOG`; W3C trace context (`traceparent`) read
//! from requests and written on every upstream call; and spans exported over OTLP
//! (HTTP/protobuf) only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::sync::OnceLock;

use opentelemetry::propagation::TextMapPropagator;
use opentelemetry::trace::{TraceContextExt, TracerProvider};
use opentelemetry::{Context, KeyValue};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tracing::Span;
use tracing::subscriber::Interest;
use tracing::{Level, Metadata};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::filter::{EnvFilter, LevelFilter};
use tracing_subscriber::layer::{self, Filter};
use tracing_subscriber::prelude::*;

/// The variables that switch the exporter on (the signal-specific one wins, as the
/// OpenTelemetry specification says; the exporter reads them itself).
const ENDPOINT_VARS: [&str; 2] = [
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
    "OTEL_EXPORTER_OTLP_ENDPOINT",
];

/// The provider of the installed subscriber, kept to flush it at exit.
static PROVIDER: OnceLock<Installed> = OnceLock::new();

struct Installed {
    provider: SdkTracerProvider,
    exports: bool,
    /// Whether every request's span is recorded (exported, or logged with its events).
    records_spans: bool,
}

/// Installs the global subscriber once; later calls (tests) are ignored. An exporter that
/// cannot be built is reported on stderr and left out: logs and propagation still work.
pub fn init(json: bool) {
    if PROVIDER.get().is_some() {
        return;
    }
    let (provider, exports) = tracer_provider();
    let fmt_filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info,sqlx=warn"));
    // `RUST_LOG=warn` (production's usual) logs no span at info: the request's span then
    // matters only when exported or when a caller's trace goes on through it
    let logs_spans = fmt_filter
        .max_level_hint()
        .is_none_or(|level| level >= LevelFilter::INFO);
    let trace_filter = TraceFilter { events: exports };
    // Without an exporter no attribute is ever read, so none is collected; orderdesk reads
    // context from the tracing span (`Span::context`), never from an activated one.
    let traces = tracing_opentelemetry::layer()
        .with_tracer(provider.tracer("orderdesk"))
        .with_tracked_inactivity(exports)
        .with_location(exports)
        .with_threads(exports)
        .with_target(exports)
        .with_context_activation(false)
        .with_filter(trace_filter);
    let registry = tracing_subscriber::registry().with(traces);
    let installed = if json {
        let logs = tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_filter(fmt_filter);
        registry.with(logs).try_init()
    } else {
        registry
            .with(tracing_subscriber::fmt::layer().with_filter(fmt_filter))
            .try_init()
    };
    if installed.is_ok() {
        let _ = PROVIDER.set(Installed {
            provider,
            exports,
            records_spans: exports || logs_spans,
        });
    }
}

/// What the trace layer sees: spans at info and above whatever `RUST_LOG` says, so trace
/// context flows even when logs are quiet; events only when they are exported.
struct TraceFilter {
    events: bool,
}

impl TraceFilter {
    fn wants(&self, meta: &Metadata<'_>) -> bool {
        (meta.is_span() || self.events) && *meta.level() <= Level::INFO
    }
}

impl<S> Filter<S> for TraceFilter {
    fn enabled(&self, meta: &Metadata<'_>, _: &layer::Context<'_, S>) -> bool {
        self.wants(meta)
    }

    /// Never `always`: with per-layer filters, a callsite cached as `always` skips
    /// `enabled`, and its span then reads the filter decisions another call left behind (a
    /// `log_enabled!` through tracing-log, which sqlx makes after every query): the span
    /// silently misses the trace layer and the request loses its trace
    /// (tokio-rs/tracing#2519). `sometimes` asks [`Filter::enabled`] every time.
    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        match self.wants(meta) {
            true => Interest::sometimes(),
            false => Interest::never(),
        }
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(LevelFilter::INFO)
    }
}

/// Sends the spans still buffered to the OTLP endpoint; call once, as the process ends.
pub fn shutdown() {
    if let Some(Installed {
        provider,
        exports: true,
        ..
    }) = PROVIDER.get()
        && let Err(e) = provider.shutdown()
    {
        eprintln!("orderdesk: OTLP exporter did not flush at exit: {e}");
    }
}

/// With an endpoint: a batch exporter, sampling as `OTEL_TRACES_SAMPLER` says (default:
/// the caller's decision, else every trace). Without: no exporter, and a trace begun here is
/// marked not sampled (nothing records it) while a caller's decision is passed on.
fn tracer_provider() -> (SdkTracerProvider, bool) {
    let builder = SdkTracerProvider::builder().with_resource(resource());
    if !ENDPOINT_VARS
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
    {
        let off = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        return (builder.with_sampler(off).build(), false);
    }
    match opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
    {
        Ok(exporter) => (builder.with_batch_exporter(exporter).build(), true),
        Err(e) => {
            eprintln!("orderdesk: no OTLP exporter ({e}); spans are not exported");
            (builder.build(), false)
        }
    }
}

/// `service.name` is `orderdesk` unless `OTEL_SERVICE_NAME` or `OTEL_RESOURCE_ATTRIBUTES`
/// name it.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let named = detected
        .get(&opentelemetry::Key::new("service.name"))
        .is_some_and(|v| !v.as_str().starts_with("unknown_service"));
    match named {
        true => detected,
        false => Resource::builder()
            .with_attribute(KeyValue::new("service.name", "orderdesk"))
            .build(),
    }
}

/// Makes the caller's trace (a `traceparent` header, W3C Trace Context) the parent of
/// `span`; without a valid one, `span` stays the root of a trace of its own.
pub fn set_remote_parent(span: &Span, headers: &http::HeaderMap) {
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if parent.span().span_context().is_remote() {
        let _ = span.set_parent(parent);
    }
}

/// Whether a request with `headers` needs its span: something records it (an exporter, or
/// logs at `info`), or the caller sent a `traceparent`, whose trace goes on through the
/// request (upstream calls, the runs it starts). Without a subscriber installed here, yes.
pub fn records_request_spans(headers: &http::HeaderMap) -> bool {
    PROVIDER.get().is_none_or(|i| i.records_spans) || headers.contains_key("traceparent")
}

/// [`set_remote_parent`] from a stored `traceparent` value (a run's trigger).
pub fn set_parent_from_traceparent(span: &Span, traceparent: &str) {
    let mut headers = http::HeaderMap::new();
    if let Ok(value) = http::HeaderValue::from_str(traceparent) {
        headers.insert("traceparent", value);
        set_remote_parent(span, &headers);
    }
}

/// Adds `traceparent` (and `tracestate`, if any) of the current span to `headers`, so the
/// service called joins this trace.
pub fn inject_trace_context(headers: &mut http::HeaderMap) {
    inject(&Span::current().context(), headers);
}

/// The current span's `traceparent`, to store with work that goes on elsewhere.
pub fn current_traceparent() -> Option<String> {
    let mut headers = http::HeaderMap::new();
    inject(&Span::current().context(), &mut headers);
    let value = headers.get("traceparent")?.to_str().ok()?;
    Some(value.to_string())
}

fn inject(cx: &Context, headers: &mut http::HeaderMap) {
    TraceContextPropagator::new().inject_context(cx, &mut HeaderInjector(headers));
}
