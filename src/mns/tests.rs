//! MNS unit tests: topics and subscriptions (create, conflicts, limits),
//! queues on virtual time (priorities, visibility, delays, wake-ups), the
//! checks on publish, `--subscribe` parsing, and pushes to real endpoints
//! in each notify format with their retry schedules.

use super::*;
use crate::sim::{Bus, Sim, SimConfig, SimRng};
use rand::SeedableRng;

/// A bare MNS with its own clock, RNG and bus.
struct World {
    mns: Mns,
    rng: SimRng,
    bus: Bus,
    now: Millis,
}

impl World {
    fn new() -> World {
        World {
            mns: Mns::default(),
            rng: SimRng::seed_from_u64(7),
            bus: Bus::default(),
            now: 0,
        }
    }

    fn op<R>(&mut self, f: impl FnOnce(&mut Mns, &mut Ctx<'_>) -> R) -> R {
        let mut ctx = Ctx {
            now: self.now,
            epoch_ms: 0,
            rng: &mut self.rng,
            bus: &mut self.bus,
        };
        f(&mut self.mns, &mut ctx)
    }

    fn send(&mut self, queue: &str, body: &str, priority: u8, delay: u64) -> PublishReceipt {
        self.op(|m, ctx| {
            m.publish(
                ctx,
                PublishRequest {
                    dest: Dest::Queue(queue.into()),
                    body: body.into(),
                    tag: None,
                    delay_seconds: Some(delay),
                    priority: Some(priority),
                    origin: None,
                },
            )
        })
        .unwrap()
    }

    fn receive(&mut self, queue: &str) -> Option<ReceivedMessage> {
        self.op(|m, ctx| m.receive(ctx, queue, false)).unwrap()
    }
}

#[test]
fn create_topic_is_idempotent_and_conflicts_on_other_attributes() {
    let mut m = Mns::default();
    let a = TopicAttributes::default();
    assert_eq!(m.create_topic("t1", a, 0), Ok(true));
    assert_eq!(m.create_topic("t1", a, 5), Ok(false));
    let other = TopicAttributes {
        maximum_message_size: 2048,
        ..a
    };
    let e = m.create_topic("t1", other, 5).unwrap_err();
    assert_eq!((e.code(), e.status()), ("TopicAlreadyExist", 409));
    let e = m.create_topic("1bad_name", a, 0).unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
    let e = m.create_topic("t2", other_size(100), 0).unwrap_err();
    assert!(e.to_string().contains("MaximumMessageSize"), "{e}");
    assert_eq!(m.delete_topic("t1"), Ok(()));
    assert_eq!(
        m.delete_topic("t1"),
        Err(MnsError::TopicNotExist("t1".into()))
    );
}

fn other_size(n: u32) -> TopicAttributes {
    TopicAttributes {
        maximum_message_size: n,
        logging_enabled: false,
    }
}

#[test]
fn subscriptions_create_conflict_and_unsubscribe() {
    let mut m = Mns::default();
    m.ensure_topic("t", 0);
    let sub = |url: &str| Subscription::new("s", Endpoint::Http(url.into()), 0);
    assert_eq!(m.create_subscription("t", sub("http://a/")), Ok(true));
    assert_eq!(m.create_subscription("t", sub("http://a/")), Ok(false));
    let e = m.create_subscription("t", sub("http://b/")).unwrap_err();
    assert_eq!((e.code(), e.status()), ("SubscriptionAlreadyExist", 409));
    let e = m.create_subscription("nope", sub("http://a/")).unwrap_err();
    assert_eq!(e.code(), "TopicNotExist");
    m.set_subscription_strategy("t", "s", NotifyStrategy::ExponentialDecayRetry, 9)
        .unwrap();
    let s = m.subscription("t", "s").unwrap();
    assert_eq!(
        (s.strategy, s.modified),
        (NotifyStrategy::ExponentialDecayRetry, 9)
    );
    assert_eq!(m.unsubscribe("t", "s"), Ok(()));
    let e = m.unsubscribe("t", "s").unwrap_err();
    assert_eq!((e.code(), e.status()), ("SubscriptionNotExist", 404));
}

#[test]
fn queue_receive_by_priority_with_visibility_timeouts_on_virtual_time() {
    let mut w = World::new();
    let attrs = QueueAttributes {
        visibility_timeout: 10,
        ..QueueAttributes::default()
    };
    assert_eq!(w.mns.create_queue("q", attrs, 0), Ok(true));
    assert_eq!(w.mns.create_queue("q", attrs, 0), Ok(false));
    let e = w
        .mns
        .create_queue("q", QueueAttributes::default(), 0)
        .unwrap_err();
    assert_eq!(e.code(), "QueueAlreadyExist");
    let low = w.send("q", "low", 12, 0);
    let high = w.send("q", "high", 2, 0);
    assert_eq!(high.message_body_md5, format!("{:X}", Md5::digest(b"high")));
    let first = w.receive("q").unwrap();
    assert_eq!(
        (first.id.as_str(), first.dequeue_count),
        (high.message_id.as_str(), 1)
    );
    assert_eq!(first.next_visible, 10_000);
    let second = w.receive("q").unwrap();
    assert_eq!(second.id, low.message_id);
    assert!(w.receive("q").is_none(), "both are invisible");
    assert_eq!(
        w.mns.queue_counts("q", w.now).unwrap(),
        QueueCounts {
            active: 0,
            inactive: 2,
            delayed: 0
        }
    );
    // A wake-up is on the bus for when they become visible again.
    assert!(
        w.bus.iter().any(|e| e.key.due == 10_000
            && matches!(&e.msg, Msg::QueueVisible { queue } if &**queue == "q"))
    );
    w.now = 10_000;
    let again = w.receive("q").unwrap();
    assert_eq!(
        (again.id.as_str(), again.dequeue_count),
        (high.message_id.as_str(), 2)
    );
    assert_eq!(again.first_dequeued, 0);
    // The first handle is stale now; the latest one deletes.
    let e = w
        .op(|m, ctx| m.delete_message(ctx, "q", &first.receipt_handle))
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("ReceiptHandleError", 400));
    assert_eq!(
        w.op(|m, ctx| m.delete_message(ctx, "q", &again.receipt_handle)),
        Ok(())
    );
    let e = w
        .op(|m, ctx| m.delete_message(ctx, "q", &again.receipt_handle))
        .unwrap_err();
    assert_eq!((e.code(), e.status()), ("MessageNotExist", 404));
    let e = w
        .op(|m, ctx| m.delete_message(ctx, "q", "garbage"))
        .unwrap_err();
    assert_eq!(e.code(), "ReceiptHandleError");
    let e = w
        .op(|m, ctx| m.delete_message(ctx, "nope", "1-AB"))
        .unwrap_err();
    assert_eq!(e.code(), "QueueNotExist");
}

#[test]
fn delayed_messages_and_change_visibility() {
    let mut w = World::new();
    w.mns.ensure_queue("q", 0);
    w.send("q", "later", 8, 5);
    assert_eq!(
        w.mns.queue_counts("q", 0).unwrap(),
        QueueCounts {
            active: 0,
            inactive: 0,
            delayed: 1
        }
    );
    assert!(w.receive("q").is_none());
    w.now = 5_000;
    let m = w.receive("q").unwrap();
    let (h2, at) = w
        .op(|mns, ctx| mns.change_visibility(ctx, "q", &m.receipt_handle, 60))
        .unwrap();
    assert_eq!(at, 65_000);
    assert_ne!(h2, m.receipt_handle);
    w.now = 64_999;
    assert!(w.receive("q").is_none());
    let e = w
        .op(|mns, ctx| mns.change_visibility(ctx, "q", &h2, 50_000))
        .unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
    w.now = 65_000;
    assert_eq!(w.receive("q").unwrap().dequeue_count, 2);
}

#[test]
fn publish_checks_sizes_priorities_and_destinations() {
    let mut w = World::new();
    w.mns.ensure_queue("q", 0);
    let req = |dest: Dest, body: &str, priority| PublishRequest {
        dest,
        body: body.into(),
        tag: None,
        delay_seconds: None,
        priority,
        origin: None,
    };
    let e = w
        .op(|m, ctx| m.publish(ctx, req(Dest::Topic("t".into()), "x", None)))
        .unwrap_err();
    assert_eq!(e, MnsError::TopicNotExist("t".into()));
    let e = w
        .op(|m, ctx| m.publish(ctx, req(Dest::Queue("q".into()), "x", Some(17))))
        .unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
    let big = "x".repeat(MAX_MESSAGE_SIZE as usize + 1);
    let e = w
        .op(|m, ctx| m.publish(ctx, req(Dest::Queue("q".into()), &big, None)))
        .unwrap_err();
    assert!(e.to_string().contains("at most 65536"), "{e}");
}

#[test]
fn subscribe_spec_parses_options_and_refuses_what_it_cannot_push_to() {
    let s: SubscribeSpec = "orders=http://127.0.0.1:9000/push".parse().unwrap();
    assert_eq!(
        s,
        SubscribeSpec {
            topic: "orders".into(),
            url: "http://127.0.0.1:9000/push".into(),
            format: NotifyFormat::Json,
            strategy: NotifyStrategy::BackoffRetry,
            name: "http-127-0-0-1-9000".into(),
        }
    );
    let s: SubscribeSpec = "t=http://h/x,format=xml,strategy=EXPONENTIAL_DECAY_RETRY,name=mine"
        .parse()
        .unwrap();
    assert_eq!(
        (s.format, s.strategy, s.name.as_str()),
        (
            NotifyFormat::Xml,
            NotifyStrategy::ExponentialDecayRetry,
            "mine"
        )
    );
    for (bad, why) in [
        ("http://h/x", "expected TOPIC=URL"),
        ("t=https://h/x", "https"),
        ("t=ftp://h", "http:// endpoints only"),
        ("t=http://", "needs a host"),
        ("t=http://h,format=YAML", "format `YAML`"),
        ("t=http://h,strategy=NEVER", "strategy `NEVER`"),
        ("t=http://h,colour=red", "unknown option `colour`"),
        ("t=http://h,name", "not key=value"),
        ("=http://h", "topic is empty"),
    ] {
        let e = bad.parse::<SubscribeSpec>().unwrap_err();
        assert!(e.contains(why), "{bad}: {e}");
    }
}

#[test]
fn pushes_to_http_endpoints_go_to_the_shell_outbox_in_their_format() {
    let mut sim = Sim::new(SimConfig {
        subscriptions: vec![
            "t=http://127.0.0.1:1/json".parse().unwrap(),
            "t=http://127.0.0.1:1/xml,format=XML,name=x"
                .parse()
                .unwrap(),
            "t=http://127.0.0.1:1/raw,format=SIMPLIFIED,name=raw"
                .parse()
                .unwrap(),
        ],
        ..SimConfig::default()
    });
    let receipt = sim
        .mns_op(|m, ctx| {
            m.publish(
                ctx,
                PublishRequest {
                    dest: Dest::Topic("t".into()),
                    body: r#"{"taskToken":"tok"}"#.into(),
                    tag: Some("tag1".into()),
                    delay_seconds: None,
                    priority: None,
                    origin: None,
                },
            )
        })
        .unwrap();
    // No virtual push timeout for real endpoints: the shell answers.
    assert!(
        sim.bus()
            .iter()
            .all(|e| e.to == Component::Shell && matches!(e.msg, Msg::Notify { .. }))
    );
    sim.run_until_idle(100);
    let pushes = sim.take_http_pushes();
    assert_eq!(pushes.len(), 3);
    assert!(sim.take_http_pushes().is_empty());
    let by = |suffix: &str| pushes.iter().find(|p| p.url.ends_with(suffix)).unwrap();
    let header = |p: &HttpPush, k: &str| {
        p.headers
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.clone())
    };
    let json: serde_json::Value = serde_json::from_str(&by("/json").body).unwrap();
    assert_eq!(json["Message"], r#"{"taskToken":"tok"}"#);
    assert_eq!(json["MessageId"], receipt.message_id.as_str());
    assert_eq!(json["MessageTag"], "tag1");
    assert_eq!(json["PublishTime"], "1767225600000");
    assert_eq!(
        header(by("/json"), "date").as_deref(),
        Some("Thu, 01 Jan 2026 00:00:00 GMT")
    );
    assert_eq!(
        header(by("/json"), "x-mns-version").as_deref(),
        Some(API_VERSION)
    );
    let xml = &by("/xml").body;
    assert!(
        xml.contains(
            "<Notification xmlns=\"http://mns.aliyuncs.com/doc/v1/\"><TopicOwner>1234567890123456</TopicOwner><TopicName>t</TopicName>"
        ),
        "{xml}"
    );
    assert!(
        xml.contains(r#"<Message>{"taskToken":"tok"}</Message>"#),
        "{xml}"
    );
    assert_eq!(
        header(by("/xml"), "content-type").as_deref(),
        Some("text/xml;charset=utf-8")
    );
    let raw = by("/raw");
    assert_eq!(&*raw.body, r#"{"taskToken":"tok"}"#);
    assert_eq!(
        header(raw, "x-mns-message-id"),
        Some(receipt.message_id.clone())
    );
    assert_eq!(header(raw, "x-mns-message-tag").as_deref(), Some("tag1"));

    // Answers come back through the bus: a 500 is retried on virtual
    // time, a 200 ends it; latency is recorded per attempt.
    let raw_id = raw.notification;
    sim.push_answered(raw_id, PushOutcome::Status(500), Some(12));
    for p in &pushes {
        if p.notification != raw_id {
            sim.push_answered(p.notification, PushOutcome::Status(204), Some(3));
        }
    }
    sim.run_until_idle(100);
    let retried = sim.take_http_pushes();
    assert_eq!(retried.len(), 1);
    assert_eq!((retried[0].notification, retried[0].attempt), (raw_id, 2));
    assert!((10_000..=20_000).contains(&sim.now()), "{}", sim.now());
    sim.push_answered(raw_id, PushOutcome::Status(200), Some(4));
    sim.run_until_idle(100);
    let rec = &sim.mns.messages()[0];
    let raw_attempts: Vec<_> = rec
        .attempts
        .iter()
        .filter(|a| a.subscription == "raw")
        .map(|a| (a.attempt, a.outcome.clone(), a.latency_ms))
        .collect();
    assert_eq!(
        raw_attempts,
        vec![
            (1, Some(PushOutcome::Status(500)), Some(12)),
            (2, Some(PushOutcome::Status(200)), Some(4)),
        ]
    );
    assert_eq!(sim.mns.in_flight(), 0);
}

fn queue_req(q: &str, body: &str, tag: Option<&str>, delay: Option<u64>) -> PublishRequest {
    PublishRequest {
        dest: Dest::Queue(q.into()),
        body: body.into(),
        tag: tag.map(Into::into),
        delay_seconds: delay,
        priority: None,
        origin: None,
    }
}

#[test]
fn bodies_and_tags_with_characters_xml_cannot_hold_are_refused() {
    let mut w = World::new();
    w.mns.ensure_queue("q", 0);
    let e = w
        .op(|m, ctx| m.publish(ctx, queue_req("q", "a\u{1}b", None, None)))
        .unwrap_err();
    assert_eq!(e.code(), "InvalidArgument");
    let text = e.to_string();
    assert!(
        text.contains("U+0001") && text.contains("character 2"),
        "{text}"
    );
    let e = w
        .op(|m, ctx| m.publish(ctx, queue_req("q", "ok\u{FFFF}", None, None)))
        .unwrap_err();
    assert!(e.to_string().contains("U+FFFF"), "{e}");
    let e = w
        .op(|m, ctx| m.publish(ctx, queue_req("q", "x", Some("a\nb"), None)))
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("MessageTag") && text.contains("U+000A"),
        "{text}"
    );
    // Tabs, line breaks and any non-ASCII text are fine in a body.
    w.op(|m, ctx| m.publish(ctx, queue_req("q", "a\tb\r\nc 日本 🎉", Some("标签"), None)))
        .unwrap();
    assert_eq!(w.mns.queue("q").unwrap().messages.len(), 1);
}

#[test]
fn a_task_publishing_a_body_xml_cannot_hold_fails_with_mns_invalid_argument() {
    let mut flow = crate::sim::testing::seed_flow();
    if let crate::fdl::StepKind::Task(t) = &mut flow.steps[0].kind {
        t.service_params = vec![(
            "MessageBody".into(),
            crate::fdl::ParamValue::Path(crate::fdl::Path {
                root: crate::fdl::Root::Dollar,
                segments: vec![crate::fdl::Segment::Key("messageBody".into())],
            }),
        )];
    }
    let mut sim = Sim::new(SimConfig::default());
    sim.add_flow(flow).unwrap();
    let name = sim.engine.flows().next().unwrap().name.clone();
    let id = sim
        .start_execution(&name, None, Some(r#"{"messageBody":"a\u0001b"}"#))
        .unwrap();
    sim.run_until_idle(1_000);
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(x.status, crate::engine::Status::Failed);
    let error = x.error.as_ref().unwrap();
    assert_eq!(error.error, "MNS.InvalidArgument");
    assert!(error.cause.contains("U+0001"), "{}", error.cause);
}

#[test]
fn a_topic_holds_at_most_100_subscriptions() {
    let mut m = Mns::default();
    m.ensure_topic("t", 0);
    let sub = |i: usize| Subscription::new(&format!("s{i}"), Endpoint::Http("http://a/".into()), 0);
    for i in 0..MAX_SUBSCRIPTIONS_PER_TOPIC {
        assert_eq!(m.create_subscription("t", sub(i)), Ok(true));
    }
    let e = m.create_subscription("t", sub(1000)).unwrap_err();
    assert_eq!((e.code(), e.status()), ("SubscriptionLimitExceeded", 403));
    assert!(e.to_string().contains("100"), "{e}");
    // An identical one is still no conflict, and a freed place is usable.
    assert_eq!(m.create_subscription("t", sub(5)), Ok(false));
    m.unsubscribe("t", "s5").unwrap();
    assert_eq!(m.create_subscription("t", sub(1000)), Ok(true));
    let spec: SubscribeSpec = "t=http://h/x,name=extra".parse().unwrap();
    let e = m.subscribe_endpoint(&spec, 0).unwrap_err();
    assert_eq!(e.code(), "SubscriptionLimitExceeded");
    // Replacing one by name is fine.
    let spec: SubscribeSpec = "t=http://h/x,name=s7".parse().unwrap();
    m.subscribe_endpoint(&spec, 0).unwrap();
}

fn wakeups(bus: &Bus) -> usize {
    bus.iter()
        .filter(|e| matches!(e.msg, Msg::QueueVisible { .. }))
        .count()
}

#[test]
fn a_message_has_one_wake_up_at_most_whatever_the_visibility_changes() {
    let mut w = World::new();
    w.mns.ensure_queue("q", 0);
    w.send("q", "m", 8, 5);
    assert_eq!(wakeups(&w.bus), 1);
    w.now = 5_000;
    // The delay's wake-up is due now; deliver it as the sim would.
    w.bus.pop();
    let m = w.receive("q").unwrap();
    let mut handle = m.receipt_handle;
    for _ in 0..20_000 {
        handle = w
            .op(|mns, ctx| mns.change_visibility(ctx, "q", &handle, 43_200))
            .unwrap()
            .0;
    }
    assert_eq!(wakeups(&w.bus), 1);
    assert_eq!(w.bus.iter().next().unwrap().key.due, 5_000 + 43_200_000);
    w.op(|mns, ctx| mns.delete_message(ctx, "q", &handle))
        .unwrap();
    assert_eq!(wakeups(&w.bus), 0, "a deleted message wakes nothing");
}

#[test]
fn an_explicit_zero_delay_means_no_delay_and_none_the_queue_default() {
    let mut w = World::new();
    let attrs = QueueAttributes {
        delay_seconds: 30,
        ..QueueAttributes::default()
    };
    w.mns.create_queue("q", attrs, 0).unwrap();
    w.op(|m, ctx| m.publish(ctx, queue_req("q", "default", None, None)))
        .unwrap();
    w.op(|m, ctx| m.publish(ctx, queue_req("q", "now", None, Some(0))))
        .unwrap();
    let got = w.receive("q").unwrap();
    assert_eq!(&*got.body, "now");
    assert!(w.receive("q").is_none(), "the other one waits 30 s");
    let e = w
        .op(|m, ctx| m.publish(ctx, queue_req("q", "x", None, Some(u64::MAX))))
        .unwrap_err();
    assert!(e.to_string().contains("got 18446744073709551615"), "{e}");
}

#[test]
fn endpoints_that_can_never_be_pushed_to_are_refused() {
    let long = format!("http://{}/", "h".repeat(5000));
    for (bad, why) in [
        ("http://[::1", "not a valid http:// URL"),
        ("http://h:99999/", "port `99999`"),
        ("http://h:0/", "port `0`"),
        (long.as_str(), "at most 253"),
        ("http://bücher.example/", "U+00FC"),
        ("http://h/a b", "U+0020"),
        ("http://", "needs a host"),
        ("http://:80/", "needs a host"),
    ] {
        let e = parse_http_endpoint(bad).unwrap_err();
        assert_eq!(e.code(), "InvalidArgument");
        assert!(e.to_string().contains(why), "{bad}: {e}");
    }
    for good in [
        "http://127.0.0.1:9000/push",
        "http://[::1]:8080/x?y=1",
        "http://example.com",
        "http://h:65535/",
    ] {
        assert!(parse_http_endpoint(good).is_ok(), "{good}");
    }
}

#[test]
fn backoff_retry_is_three_retries_10_to_20_seconds() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    for r in 1..=3 {
        let d = NotifyStrategy::BackoffRetry
            .retry_delay(r, &mut rng)
            .unwrap_or(0);
        assert!((10_000..=20_000).contains(&d), "{d}");
    }
    assert_eq!(NotifyStrategy::BackoffRetry.retry_delay(4, &mut rng), None);
}

#[test]
fn exponential_decay_retry_schedule() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
    let s = NotifyStrategy::ExponentialDecayRetry;
    let delays: Vec<_> = (1..=176)
        .filter_map(|r| s.retry_delay(r, &mut rng))
        .collect();
    assert_eq!(delays.len(), 176);
    assert_eq!(&delays[..4], &[1000, 2000, 4000, 8000]);
    assert_eq!(delays[9], 512_000);
    assert_eq!(delays[175], 512_000);
    assert_eq!(s.retry_delay(177, &mut rng), None);
    let total: u64 = delays.iter().sum();
    // About a day.
    assert!((80_000_000..90_000_000).contains(&total), "{total}");
}

/// `MessageRetentionPeriod`: a message is kept that long after it was
/// sent, received or not; then receives, peeks, counts and its receipt
/// handle no longer see it, and its wake-up leaves the bus.
#[test]
fn messages_expire_after_the_queue_retention_period() {
    let mut w = World::new();
    let attrs = QueueAttributes {
        message_retention_period: 60,
        visibility_timeout: 30,
        ..QueueAttributes::default()
    };
    w.mns.create_queue("q", attrs, 0).unwrap();
    w.send("q", "old", 8, 0);
    w.now = 20_000;
    w.send("q", "young", 8, 0);
    let first = w.receive("q").unwrap();
    assert_eq!(&*first.body, "old");
    // At 60 s the first is gone (received and invisible, no matter), the
    // second still there.
    w.now = 60_000;
    let counts = w.mns.queue_counts("q", w.now).unwrap();
    assert_eq!((counts.active, counts.inactive), (1, 0), "{counts:?}");
    let e = w
        .op(|m, ctx| m.delete_message(ctx, "q", &first.receipt_handle))
        .unwrap_err();
    assert_eq!(e.code(), "MessageNotExist");
    assert_eq!(w.mns.peek("q", w.now, 16).unwrap().len(), 1);
    assert_eq!(&*w.receive("q").unwrap().body, "young");
    assert_eq!(
        w.mns.queue("q").unwrap().messages.len(),
        1,
        "the old one was dropped"
    );
    w.now = 80_000;
    assert!(w.receive("q").is_none());
    assert!(w.mns.queue("q").unwrap().messages.is_empty());
    assert_eq!(wakeups(&w.bus), 0, "no wake-up outlives its message");
}
