//! Task instrumentation with `tracing`, as on tokio: `tracing::Instrument` on a spawned
//! future enters its span on every poll and leaves it between polls, so events logged by
//! the task (across `.await`s, interleaved with other tasks) land in the task's own span.
//! A layer records what it saw; nothing here depends on timing.

mod support;

use std::sync::{Arc, Mutex};

use tracing::Instrument;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

use tickslab_runtime::sync::mpsc;
use tickslab_runtime::{spawn, spawn_slab, yield_now};

use support::rt;

/// What the layer saw: (span the event was in, its message), and span enters per span.
#[derive(Default)]
struct Seen {
    events: Vec<(String, String)>,
    enters: Vec<String>,
}

struct Record(Arc<Mutex<Seen>>);

struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> Layer<S> for Record {
    fn on_event(&self, event: &tracing::Event<'_>, ctx: Context<'_, S>) {
        let span = ctx
            .event_span(event)
            .map_or_else(|| "<none>".to_string(), |s| s.name().to_string());
        let mut msg = Message(String::new());
        event.record(&mut msg);
        self.0.lock().unwrap().events.push((span, msg.0));
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        let name = ctx
            .span(id)
            .map(|s| s.name().to_string())
            .unwrap_or_default();
        self.0.lock().unwrap().enters.push(name);
    }
}

#[test]
fn instrumented_tasks_log_inside_their_own_spans_across_awaits() {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let subscriber = Registry::default().with(Record(seen.clone()));
    tracing::subscriber::with_default(subscriber, || {
        rt().block_on(async {
            let (tx, mut rx) = mpsc::channel::<u32>(1);
            let consumer = spawn(
                async move {
                    tracing::info!("consumer starts");
                    while let Some(v) = rx.recv().await {
                        tracing::info!("got {v}");
                    }
                    tracing::info!("consumer ends");
                }
                .instrument(tracing::info_span!("consumer")),
            );
            let producer = spawn_slab(
                async move {
                    for i in 0..2 {
                        tracing::info!("send {i}");
                        tx.send(i).await.unwrap();
                        yield_now().await;
                    }
                }
                .instrument(tracing::info_span!("producer")),
            );
            tracing::info!("outside any task span");
            producer.await.unwrap();
            consumer.await.unwrap();
        });
    });
    let seen = seen.lock().unwrap();
    let in_span = |span: &str| -> Vec<&str> {
        seen.events
            .iter()
            .filter(|(s, _)| s == span)
            .map(|(_, m)| m.as_str())
            .collect()
    };
    assert_eq!(
        in_span("consumer"),
        ["consumer starts", "got 0", "got 1", "consumer ends"]
    );
    assert_eq!(in_span("producer"), ["send 0", "send 1"]);
    assert_eq!(in_span("<none>"), ["outside any task span"]);
    // One enter per poll: each task was polled more than once (it waited), and every
    // poll entered its span.
    let enters = |span: &str| seen.enters.iter().filter(|s| *s == span).count();
    assert!(enters("consumer") >= 3, "{:?}", seen.enters);
    assert!(enters("producer") >= 3, "{:?}", seen.enters);
}
