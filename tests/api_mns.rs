//! The MNS REST API over real HTTP on 127.0.0.1, and real pushes to an
//! HTTP endpoint: every route, the upstream errors, signatures, long polls,
//! retries of a failing endpoint on virtual time.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use base64::Engine as _;
use flowsim::api::{self, ApiConfig, ApiState, Credentials};
use flowsim::engine::Status;
use flowsim::runtime::push::{Answer, send};
use flowsim::runtime::{self, Command, Handle, Mode};
use flowsim::sim::{PushOutcome, Sim, SimConfig};
use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

const TOPIC: &str = "flowsim-callback-topic";
const NS: &str = r#"xmlns="http://mns.aliyuncs.com/doc/v1/""#;

/// The API on 127.0.0.1:0 over a runtime.
struct Server {
    base: String,
    handle: Handle,
    creds: Option<Credentials>,
}

async fn server_with(config: SimConfig, creds: Option<Credentials>, mode: Mode) -> Server {
    let api = ApiConfig {
        credentials: creds,
        ..ApiConfig::default()
    };
    server_api(config, api, mode).await
}

/// The wall clock as an HTTP `Date` (RFC 1123).
fn now_http_date() -> String {
    flowsim::mns::http_date(time::OffsetDateTime::now_utc().unix_timestamp() * 1000)
}

async fn server_api(config: SimConfig, api: ApiConfig, mode: Mode) -> Server {
    let creds = api.credentials.clone();
    let mut sim = Sim::new(config);
    sim.add_flow(flowsim::sim::testing::seed_flow()).unwrap();
    let handle = runtime::spawn(sim, mode, 1.0);
    let state = ApiState::new(handle.clone(), api);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(api::serve(listener, state, std::future::pending()));
    Server {
        base: format!("http://{addr}"),
        handle,
        creds,
    }
}

async fn server() -> Server {
    server_with(SimConfig::default(), None, Mode::Run).await
}

/// Signs like the Python SDK (mns_client.get_signature).
fn sign(creds: &Credentials, method: &str, headers: &[(&str, String)], resource: &str) -> String {
    let get = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| *n == k)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    };
    let mut mns: Vec<_> = headers
        .iter()
        .filter(|(k, _)| k.starts_with("x-mns-"))
        .collect();
    mns.sort();
    let mut s = format!(
        "{method}\n{}\n{}\n{}\n",
        get("content-md5"),
        get("content-type"),
        get("date")
    );
    for (k, v) in mns {
        s.push_str(&format!("{k}:{v}\n"));
    }
    s.push_str(resource);
    let mut mac = Hmac::<Sha1>::new_from_slice(creds.access_key_secret.as_bytes()).unwrap();
    mac.update(s.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("MNS {}:{sig}", creds.access_key_id)
}

impl Server {
    /// A request with the SDK's headers (signed when the server checks).
    async fn call(&self, method: &str, path: &str, body: &str) -> Answer {
        self.call_with(method, path, body, &[]).await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        self.call_signed_for(method, path, body, body, extra).await
    }

    /// A request whose `Content-MD5` (and so its signature) is that of
    /// `signed_body` while it carries `body`: a replayed signature.
    async fn call_signed_for(
        &self,
        method: &str,
        path: &str,
        signed_body: &str,
        body: &str,
        extra: &[(&str, &str)],
    ) -> Answer {
        let mut headers: Vec<(&str, String)> = vec![("x-mns-version", "2015-06-06".into())];
        // The time now, as the SDKs send it (a signed request's Date must be
        // within the replay window), unless the test sends its own.
        if !extra.iter().any(|(k, _)| *k == "date") {
            headers.push(("date", now_http_date()));
        }
        if !signed_body.is_empty() {
            let hex = format!("{:x}", Md5::digest(signed_body.as_bytes()));
            headers.push((
                "content-md5",
                base64::engine::general_purpose::STANDARD.encode(hex),
            ));
            headers.push(("content-type", "text/xml;charset=UTF-8".into()));
        }
        for (k, v) in extra {
            headers.push((k, (*v).to_owned()));
        }
        if let Some(c) = &self.creds {
            let auth = sign(c, method, &headers, path);
            headers.push(("authorization", auth));
        }
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let url = format!("{}{path}", self.base);
        send(method, &url, &refs, Bytes::from(body.to_owned()))
            .await
            .unwrap()
    }
}

/// The text of the first `<name>` element.
fn element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].to_owned())
}

/// Checks an upstream error answer: status, code, all four elements, and
/// the request id both in the header and the body.
fn assert_error(a: &Answer, status: u16, code: &str) {
    let text = a.text();
    assert_eq!(a.status, status, "{text}");
    assert_eq!(element(&text, "Code").as_deref(), Some(code), "{text}");
    assert!(text.contains(&format!("<Error {NS}>")), "{text}");
    let message = element(&text, "Message").unwrap();
    assert!(!message.is_empty(), "{text}");
    assert!(element(&text, "HostId").is_some(), "{text}");
    let id = a.header("x-mns-request-id").expect("x-mns-request-id");
    assert_eq!(element(&text, "RequestId").as_deref(), Some(id), "{text}");
}

fn assert_request_id(a: &Answer) {
    let id = a.header("x-mns-request-id").expect("x-mns-request-id");
    assert!(!id.is_empty());
}

const SDK_TOPIC: &str = r#"<?xml version="1.0" encoding="utf-8"?><Topic xmlns="http://mns.aliyuncs.com/doc/v1/"></Topic>"#;

#[tokio::test]
async fn topics_create_attributes_list_and_delete() {
    let s = server().await;
    let a = s.call("PUT", "/topics/orders", SDK_TOPIC).await;
    assert_eq!(a.status, 201, "{}", a.text());
    assert_request_id(&a);
    assert_eq!(
        a.header("location"),
        Some(format!("{}/topics/orders", s.base).as_str())
    );
    // Identical: 204, still with Location (the SDK reads it).
    let a = s.call("PUT", "/topics/orders", SDK_TOPIC).await;
    assert_eq!(a.status, 204);
    assert!(a.header("location").is_some());
    assert_request_id(&a);
    // Different attributes: 409.
    let other = format!("<Topic {NS}><MaximumMessageSize>2048</MaximumMessageSize></Topic>");
    let a = s.call("PUT", "/topics/orders", &other).await;
    assert_error(&a, 409, "TopicAlreadyExist");
    // Set attributes, then read them.
    let a = s
        .call("PUT", "/topics/orders?metaoverride=true", &other)
        .await;
    assert_eq!(a.status, 204);
    let a = s.call("GET", "/topics/orders", "").await;
    assert_eq!(a.status, 200);
    let t = a.text();
    assert!(t.contains(&format!("<Topic {NS}>")), "{t}");
    assert_eq!(element(&t, "TopicName").as_deref(), Some("orders"));
    assert_eq!(element(&t, "MaximumMessageSize").as_deref(), Some("2048"));
    for field in [
        "MessageCount",
        "CreateTime",
        "LastModifyTime",
        "MessageRetentionPeriod",
        "LoggingEnabled",
    ] {
        assert!(element(&t, field).is_some(), "{field}: {t}");
    }
    // The flow's topic exists too; page through both, one at a time.
    let a = s
        .call_with("GET", "/topics", "", &[("x-mns-ret-number", "1")])
        .await;
    let t = a.text();
    assert!(t.contains(&format!("<Topics {NS}>")), "{t}");
    assert_eq!(
        element(&t, "TopicURL"),
        Some(format!("{}/topics/{TOPIC}", s.base))
    );
    let marker = element(&t, "NextMarker").unwrap();
    let a = s
        .call_with(
            "GET",
            "/topics",
            "",
            &[("x-mns-ret-number", "1"), ("x-mns-marker", &marker)],
        )
        .await;
    let t = a.text();
    assert_eq!(
        element(&t, "TopicURL"),
        Some(format!("{}/topics/orders", s.base))
    );
    assert!(element(&t, "NextMarker").is_none(), "{t}");
    let a = s
        .call_with(
            "GET",
            "/topics",
            "",
            &[("x-mns-prefix", "ord"), ("x-mns-with-meta", "true")],
        )
        .await;
    assert_eq!(element(&a.text(), "TopicName").as_deref(), Some("orders"));
    let a = s
        .call_with("GET", "/topics", "", &[("x-mns-ret-number", "0")])
        .await;
    assert_error(&a, 400, "InvalidArgument");

    let a = s.call("DELETE", "/topics/orders", "").await;
    assert_eq!(a.status, 204);
    assert_request_id(&a);
    assert_error(
        &s.call("GET", "/topics/orders", "").await,
        404,
        "TopicNotExist",
    );
    assert_error(
        &s.call("DELETE", "/topics/orders", "").await,
        404,
        "TopicNotExist",
    );
    assert_error(
        &s.call("PUT", "/topics/bad_name", SDK_TOPIC).await,
        400,
        "InvalidArgument",
    );
    assert_error(
        &s.call("PUT", "/topics/x", "<Topic><MaximumMessageSize>")
            .await,
        400,
        "MalformedXML",
    );
}

#[tokio::test]
async fn subscriptions_subscribe_attributes_list_and_unsubscribe() {
    let s = server().await;
    let path = format!("/topics/{TOPIC}/subscriptions/mine");
    let body = format!(
        "<Subscription {NS}><Endpoint>http://127.0.0.1:9/push</Endpoint><NotifyStrategy>EXPONENTIAL_DECAY_RETRY</NotifyStrategy><NotifyContentFormat>JSON</NotifyContentFormat></Subscription>"
    );
    let a = s.call("PUT", &path, &body).await;
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(
        a.header("location"),
        Some(format!("{}{path}", s.base).as_str())
    );
    assert_eq!(s.call("PUT", &path, &body).await.status, 204);
    let other = body.replace("JSON", "XML");
    assert_error(
        &s.call("PUT", &path, &other).await,
        409,
        "SubscriptionAlreadyExist",
    );
    let a = s.call("GET", &path, "").await;
    let t = a.text();
    assert_eq!(a.status, 200, "{t}");
    assert_eq!(
        element(&t, "Endpoint").as_deref(),
        Some("http://127.0.0.1:9/push")
    );
    assert_eq!(
        element(&t, "NotifyStrategy").as_deref(),
        Some("EXPONENTIAL_DECAY_RETRY")
    );
    assert_eq!(element(&t, "NotifyContentFormat").as_deref(), Some("JSON"));
    assert_eq!(element(&t, "TopicName").as_deref(), Some(TOPIC));
    for f in [
        "TopicOwner",
        "SubscriptionName",
        "CreateTime",
        "LastModifyTime",
    ] {
        assert!(element(&t, f).is_some(), "{f}: {t}");
    }
    // Only the strategy can change.
    let set =
        format!("<Subscription {NS}><NotifyStrategy>BACKOFF_RETRY</NotifyStrategy></Subscription>");
    let a = s
        .call("PUT", &format!("{path}?metaoverride=true"), &set)
        .await;
    assert_eq!(a.status, 204);
    let t = s.call("GET", &path, "").await.text();
    assert_eq!(
        element(&t, "NotifyStrategy").as_deref(),
        Some("BACKOFF_RETRY")
    );
    // The list has the simulated function's subscription and ours.
    let a = s
        .call("GET", &format!("/topics/{TOPIC}/subscriptions"), "")
        .await;
    let t = a.text();
    assert!(t.contains(&format!("<Subscriptions {NS}>")), "{t}");
    assert!(
        t.contains(&format!(
            "<SubscriptionURL>{}{path}</SubscriptionURL>",
            s.base
        )),
        "{t}"
    );
    assert_eq!(t.matches("<SubscriptionURL>").count(), 2, "{t}");

    let https = body.replace("http://", "https://");
    let a = s
        .call("PUT", &format!("/topics/{TOPIC}/subscriptions/s2"), &https)
        .await;
    assert_error(&a, 400, "InvalidArgument");
    assert!(a.text().contains("https"), "{}", a.text());
    let a = s.call("PUT", "/topics/nope/subscriptions/s2", &body).await;
    assert_error(&a, 404, "TopicNotExist");

    assert_eq!(s.call("DELETE", &path, "").await.status, 204);
    assert_error(
        &s.call("DELETE", &path, "").await,
        404,
        "SubscriptionNotExist",
    );
    assert_error(&s.call("GET", &path, "").await, 404, "SubscriptionNotExist");
}

#[tokio::test]
async fn publish_reaches_the_flow_topic_subscribers_like_a_task_publish() {
    let s = server().await;
    let body = r#"{"messageBody": "from REST", "taskToken": "not-a-token"}"#;
    let xml = format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><Message {NS}><MessageBody>{}</MessageBody><MessageTag>tag1</MessageTag></Message>",
        body.replace('"', "&quot;")
    );
    let a = s
        .call("POST", &format!("/topics/{TOPIC}/messages"), &xml)
        .await;
    let t = a.text();
    assert_eq!(a.status, 201, "{t}");
    assert_request_id(&a);
    let md5 = format!("{:X}", Md5::digest(body.as_bytes()));
    assert_eq!(element(&t, "MessageBodyMD5"), Some(md5.clone()));
    let id = element(&t, "MessageId").unwrap();
    // The simulated function (subscribed to the flow's topic) got the push.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let pushed = {
            let sim = s.handle.sim();
            let rec = sim.mns.messages().iter().find(|m| m.id == id).cloned();
            rec.filter(|m| m.attempts.iter().any(|a| a.outcome.is_some()))
        };
        if let Some(rec) = pushed {
            assert_eq!(&*rec.body, body);
            assert_eq!(rec.md5, md5);
            assert_eq!(rec.tag.as_deref(), Some("tag1"));
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never pushed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(s.handle.sim().fc.received() >= 1);

    let path = format!("/topics/{TOPIC}/messages");
    assert_error(
        &s.call("POST", &path, "<Message><MessageBody>x</Message>")
            .await,
        400,
        "MalformedXML",
    );
    assert_error(
        &s.call("POST", &path, &format!("<Topic {NS}/>")).await,
        400,
        "MalformedXML",
    );
    assert_error(
        &s.call("POST", &path, &format!("<Message {NS}></Message>"))
            .await,
        400,
        "InvalidArgument",
    );
    assert_error(
        &s.call("POST", "/topics/nope/messages", &xml).await,
        404,
        "TopicNotExist",
    );
}

#[tokio::test]
async fn queues_send_receive_change_visibility_and_delete() {
    let s = server().await;
    let queue_xml = format!(
        "<Queue {NS}><VisibilityTimeout>60</VisibilityTimeout><PollingWaitSeconds>0</PollingWaitSeconds></Queue>"
    );
    let a = s.call("PUT", "/queues/jobs", &queue_xml).await;
    assert_eq!(a.status, 201, "{}", a.text());
    assert_eq!(
        a.header("location"),
        Some(format!("{}/queues/jobs", s.base).as_str())
    );
    assert_eq!(s.call("PUT", "/queues/jobs", &queue_xml).await.status, 204);
    let a = s
        .call("PUT", "/queues/jobs", &queue_xml.replace("60", "61"))
        .await;
    assert_error(&a, 409, "QueueAlreadyExist");
    let a = s
        .call(
            "PUT",
            "/queues/q2",
            &format!("<Queue {NS}><VisibilityTimeout>0</VisibilityTimeout></Queue>"),
        )
        .await;
    assert_error(&a, 400, "InvalidArgument");

    let msg = format!(
        "<Message {NS}><MessageBody>job &lt;1&gt;</MessageBody><Priority>3</Priority></Message>"
    );
    let a = s.call("POST", "/queues/jobs/messages", &msg).await;
    assert_eq!(a.status, 201, "{}", a.text());
    let id = element(&a.text(), "MessageId").unwrap();
    assert_eq!(
        element(&a.text(), "MessageBodyMD5"),
        Some(format!("{:X}", Md5::digest(b"job <1>")))
    );
    let t = s.call("GET", "/queues/jobs", "").await.text();
    assert_eq!(element(&t, "ActiveMessages").as_deref(), Some("1"), "{t}");
    assert_eq!(element(&t, "VisibilityTimeout").as_deref(), Some("60"));
    for f in [
        "QueueName",
        "CreateTime",
        "LastModifyTime",
        "MaximumMessageSize",
        "MessageRetentionPeriod",
        "DelaySeconds",
        "PollingWaitSeconds",
        "InactiveMessages",
        "DelayMessages",
        "LoggingEnabled",
    ] {
        assert!(element(&t, f).is_some(), "{f}: {t}");
    }

    // A peekonly that is neither true nor false is refused, and consumes
    // nothing (the peek below still sees the message, unreceived).
    let bad = s
        .call("GET", "/queues/jobs/messages?peekonly=yes", "")
        .await;
    assert_eq!(bad.status, 400, "{}", bad.text());
    assert_eq!(
        element(&bad.text(), "Code").as_deref(),
        Some("InvalidArgument")
    );
    assert!(bad.text().contains("peekonly `yes`"), "{}", bad.text());
    // Peek does not hide it; receive does.
    let a = s
        .call("GET", "/queues/jobs/messages?peekonly=true", "")
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert!(element(&a.text(), "ReceiptHandle").is_none());
    let a = s
        .call("GET", "/queues/jobs/messages?waitseconds=0", "")
        .await;
    let t = a.text();
    assert_eq!(a.status, 200, "{t}");
    assert_eq!(element(&t, "MessageId"), Some(id.clone()));
    assert_eq!(element(&t, "MessageBody").as_deref(), Some("job &lt;1&gt;"));
    assert_eq!(element(&t, "DequeueCount").as_deref(), Some("1"));
    assert_eq!(element(&t, "Priority").as_deref(), Some("3"));
    for f in [
        "EnqueueTime",
        "NextVisibleTime",
        "FirstDequeueTime",
        "MessageBodyMD5",
    ] {
        assert!(element(&t, f).is_some(), "{f}: {t}");
    }
    let handle = element(&t, "ReceiptHandle").unwrap();
    assert_error(
        &s.call("GET", "/queues/jobs/messages?waitseconds=0", "")
            .await,
        404,
        "MessageNotExist",
    );
    // Change visibility: a new handle; the old one is refused.
    let a = s
        .call(
            "PUT",
            &format!("/queues/jobs/messages?ReceiptHandle={handle}&VisibilityTimeout=30"),
            "",
        )
        .await;
    let t = a.text();
    assert_eq!(a.status, 200, "{t}");
    assert!(t.contains(&format!("<ChangeVisibility {NS}>")), "{t}");
    let new = element(&t, "ReceiptHandle").unwrap();
    assert_ne!(new, handle);
    assert_error(
        &s.call(
            "DELETE",
            &format!("/queues/jobs/messages?ReceiptHandle={handle}"),
            "",
        )
        .await,
        400,
        "ReceiptHandleError",
    );
    assert_error(
        &s.call("DELETE", "/queues/jobs/messages?ReceiptHandle=garbage", "")
            .await,
        400,
        "ReceiptHandleError",
    );
    assert_error(
        &s.call("DELETE", "/queues/jobs/messages", "").await,
        400,
        "MissingReceiptHandle",
    );
    let a = s
        .call(
            "DELETE",
            &format!("/queues/jobs/messages?ReceiptHandle={new}"),
            "",
        )
        .await;
    assert_eq!(a.status, 204);
    assert_request_id(&a);
    assert_error(
        &s.call(
            "DELETE",
            &format!("/queues/jobs/messages?ReceiptHandle={new}"),
            "",
        )
        .await,
        404,
        "MessageNotExist",
    );

    // Batch receive.
    for i in 0..3 {
        let m = format!("<Message {NS}><MessageBody>m{i}</MessageBody></Message>");
        assert_eq!(
            s.call("POST", "/queues/jobs/messages", &m).await.status,
            201
        );
    }
    let a = s
        .call(
            "GET",
            "/queues/jobs/messages?numOfMessages=2&waitseconds=0",
            "",
        )
        .await;
    let t = a.text();
    assert!(t.contains(&format!("<Messages {NS}>")), "{t}");
    assert_eq!(t.matches("<ReceiptHandle>").count(), 2, "{t}");

    let t = s.call("GET", "/queues", "").await.text();
    assert!(t.contains(&format!("<Queues {NS}>")), "{t}");
    assert_eq!(
        element(&t, "QueueURL"),
        Some(format!("{}/queues/jobs", s.base))
    );
    assert_eq!(s.call("DELETE", "/queues/jobs", "").await.status, 204);
    assert_error(
        &s.call("GET", "/queues/jobs", "").await,
        404,
        "QueueNotExist",
    );
    assert_error(
        &s.call("GET", "/queues/jobs/messages?waitseconds=1", "")
            .await,
        404,
        "QueueNotExist",
    );
    assert_error(
        &s.call("POST", "/queues/jobs/messages", &msg).await,
        404,
        "QueueNotExist",
    );
}

#[tokio::test]
async fn receive_long_poll_returns_when_a_message_arrives_without_spinning() {
    let s = server().await;
    assert_eq!(
        s.call("PUT", "/queues/inbox", &format!("<Queue {NS}/>"))
            .await
            .status,
        201
    );
    let base = s.base.clone();
    let poll = tokio::spawn(async move {
        let url = format!("{base}/queues/inbox/messages?waitseconds=30");
        send("GET", &url, &[], Bytes::new()).await.unwrap()
    });
    // Let the poll start waiting; while it waits nothing changes in the
    // simulation (it watches the runtime's state, it does not poll it).
    tokio::time::sleep(Duration::from_millis(50)).await;
    let before = s.handle.state().borrow().version;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(s.handle.state().borrow().version, before);
    assert!(!poll.is_finished());
    let m = format!("<Message {NS}><MessageBody>wake up</MessageBody></Message>");
    assert_eq!(
        s.call("POST", "/queues/inbox/messages", &m).await.status,
        201
    );
    let a = tokio::time::timeout(Duration::from_secs(10), poll)
        .await
        .expect("the long poll never returned")
        .unwrap();
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(
        element(&a.text(), "MessageBody").as_deref(),
        Some("wake up")
    );
    assert_request_id(&a);
}

/// `serve` keeps virtual time with the wall clock: after an idle stretch an
/// MNS request first brings the clock up, so enqueue and visibility times
/// are not in the past (a lower bound only: no timing asserted).
#[tokio::test]
async fn mns_requests_catch_the_clock_up_with_the_wall_clock() {
    let api = ApiConfig {
        wall_clock: true,
        ..ApiConfig::default()
    };
    let s = server_api(SimConfig::default(), api, Mode::Run).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(s.handle.sim().now(), 0);
    assert_eq!(
        s.call("PUT", "/queues/late", &format!("<Queue {NS}/>"))
            .await
            .status,
        201
    );
    assert!(s.handle.sim().now() >= 300, "{}", s.handle.sim().now());
}

#[tokio::test]
async fn signatures_are_checked_when_credentials_are_set() {
    let creds = Credentials {
        access_key_id: "AKID".into(),
        access_key_secret: "secret".into(),
    };
    let s = server_with(SimConfig::default(), Some(creds.clone()), Mode::Run).await;
    // Signed like the SDK, including x-mns-* headers and a query.
    let a = s
        .call("PUT", "/queues/signed", &format!("<Queue {NS}/>"))
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let a = s
        .call_with("GET", "/queues?x=1", "", &[("x-mns-ret-number", "5")])
        .await;
    assert_eq!(a.status, 200, "{}", a.text());

    let wrong = Server {
        base: s.base.clone(),
        handle: s.handle.clone(),
        creds: Some(Credentials {
            access_key_id: "AKID".into(),
            access_key_secret: "not the secret".into(),
        }),
    };
    assert_error(
        &wrong.call("GET", "/queues", "").await,
        403,
        "SignatureDoesNotMatch",
    );
    let unknown = Server {
        creds: Some(Credentials {
            access_key_id: "OTHER".into(),
            access_key_secret: "secret".into(),
        }),
        base: s.base.clone(),
        handle: s.handle.clone(),
    };
    assert_error(
        &unknown.call("GET", "/queues", "").await,
        403,
        "InvalidAccessKeyId",
    );
    let anonymous = Server {
        creds: None,
        base: s.base.clone(),
        handle: s.handle.clone(),
    };
    assert_error(
        &anonymous.call("GET", "/queues", "").await,
        400,
        "MissingAuthorizationHeader",
    );
    let a = anonymous
        .call_with("GET", "/queues", "", &[("authorization", "Basic abc")])
        .await;
    assert_error(&a, 400, "InvalidAuthorizationHeader");
    // A signature over another resource does not pass.
    let headers = vec![("date", "x".to_owned())];
    let auth = sign(&creds, "GET", &headers, "/topics");
    let a = anonymous
        .call_with(
            "GET",
            "/queues",
            "",
            &[("date", "x"), ("authorization", &auth)],
        )
        .await;
    assert_error(&a, 403, "SignatureDoesNotMatch");
}

/// Replay protection: a signed request's `Date` must be within 15 minutes
/// of the wall clock (403 `TimeExpired`) and readable (400
/// `InvalidDateHeader`), even with a valid signature over it.
#[tokio::test]
async fn signed_requests_with_a_stale_date_are_refused() {
    let creds = Credentials {
        access_key_id: "AKID".into(),
        access_key_secret: "secret".into(),
    };
    let s = server_with(SimConfig::default(), Some(creds), Mode::Run).await;
    let a = s
        .call_with(
            "GET",
            "/queues",
            "",
            &[("date", "Thu, 01 Jan 2026 00:00:00 GMT")],
        )
        .await;
    assert_error(&a, 403, "TimeExpired");
    assert!(a.text().contains("900 s"), "{}", a.text());
    let a = s
        .call_with("GET", "/queues", "", &[("date", "yesterday")])
        .await;
    assert_error(&a, 400, "InvalidDateHeader");
    // Signed now, the same request passes.
    let a = s.call_with("GET", "/queues", "", &[]).await;
    assert_eq!(a.status, 200, "{}", a.text());
}

#[tokio::test]
async fn every_answer_has_a_request_id_even_rejections() {
    let s = server().await;
    let a = s.call("POST", "/queues", "").await;
    assert_error(&a, 405, "InvalidRequestURL");
    let a = s
        .call("GET", "/queues/q/messages?waitseconds=abc", "")
        .await;
    assert_error(&a, 400, "InvalidArgument");
}

/// What the test endpoint saw.
#[derive(Default)]
struct Seen {
    pushes: Vec<(Vec<(String, String)>, String)>,
}

#[tokio::test]
async fn real_push_retries_on_virtual_time_and_the_endpoint_reports_back() {
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};

    // The endpoint: answers 500 to the first push, then parses the JSON
    // notification, reports success with the token and answers 200.
    type Shared = (Arc<Mutex<Seen>>, Arc<Mutex<Option<Handle>>>);
    async fn endpoint(
        State((seen, handle)): State<Shared>,
        headers: HeaderMap,
        body: String,
    ) -> StatusCode {
        let n = {
            let mut seen = seen.lock().unwrap();
            let h = headers
                .iter()
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or("").to_owned()))
                .collect();
            seen.pushes.push((h, body.clone()));
            seen.pushes.len()
        };
        if n == 1 {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        let notification: serde_json::Value = serde_json::from_str(&body).unwrap();
        let message: serde_json::Value =
            serde_json::from_str(notification["Message"].as_str().unwrap()).unwrap();
        let token = message["taskToken"].as_str().unwrap().to_owned();
        let h = handle.lock().unwrap().clone().unwrap();
        h.call(Command::ReportSucceeded {
            token,
            output: r#"{"status": "success"}"#.into(),
        })
        .await
        .unwrap();
        StatusCode::OK
    }
    let seen = Arc::new(Mutex::new(Seen::default()));
    let slot: Arc<Mutex<Option<Handle>>> = Arc::default();
    let app = axum::Router::new()
        .route("/push", axum::routing::post(endpoint))
        .with_state((seen.clone(), slot.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    // No simulated function: only the real endpoint is subscribed. STEP
    // mode: virtual time moves only when the test says so.
    let config = SimConfig {
        subscribe_handler: false,
        subscriptions: vec![format!("{TOPIC}=http://{addr}/push").parse().unwrap()],
        ..SimConfig::default()
    };
    let s = server_with(config, None, Mode::Step).await;
    *slot.lock().unwrap() = Some(s.handle.clone());
    let flow = s.handle.sim().engine.flows().next().unwrap().name.clone();
    let started = s
        .handle
        .call(Command::StartExecution {
            flow,
            name: Some("real".into()),
            input: r#"{"messageBody": "hello world"}"#.into(),
        })
        .await
        .unwrap();
    let runtime::Outcome::Started(id) = started else {
        panic!("{started:?}")
    };
    // Step (and jump the clock over the retry interval) until it ends;
    // between steps, wait for the endpoint's answers to come back in.
    let mut state = s.handle.state();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (status, pending, in_flight) = {
            let sim = s.handle.sim();
            let status = sim.engine.execution(id).unwrap().status;
            (status, sim.bus().len(), sim.mns.in_flight())
        };
        // The endpoint reports before it answers: wait for both.
        if status != Status::Running && in_flight == 0 {
            assert_eq!(status, Status::Succeeded);
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stuck");
        if pending > 0 {
            // Refused while an envelope is due now: the step delivers it.
            let _ = s.handle.call(Command::JumpClock).await;
            s.handle.call(Command::Step).await.unwrap();
        } else {
            // A push is out on the network: wait for its answer.
            let _ = tokio::time::timeout(Duration::from_millis(200), state.changed()).await;
        }
    }
    let sim = s.handle.sim();
    let x = sim.engine.execution(id).unwrap();
    assert_eq!(x.output.as_deref(), Some(r#"{"status":"success"}"#));
    // The message record shows both attempts, on virtual time.
    let rec = sim.mns.messages().back().unwrap();
    let attempts: Vec<_> = rec
        .attempts
        .iter()
        .map(|a| (a.attempt, a.outcome.clone(), a.latency_ms.is_some()))
        .collect();
    assert_eq!(
        attempts,
        vec![
            (1, Some(PushOutcome::Status(500)), true),
            (2, Some(PushOutcome::Status(200)), true),
        ]
    );
    let gap = rec.attempts[1].at - rec.attempts[0].answered_at.unwrap();
    assert!((10_000..=20_000).contains(&gap), "BACKOFF_RETRY: {gap} ms");
    drop(sim);

    // What the endpoint received: the JSON notification with the headers.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.pushes.len(), 2);
    let (headers, body) = &seen.pushes[0];
    let header = |k: &str| {
        headers
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(header("x-mns-version"), Some("2015-06-06"));
    assert!(header("x-mns-request-id").is_some_and(|v| !v.is_empty()));
    assert!(header("date").is_some_and(|d| d.ends_with(" GMT")));
    assert!(header("content-md5").is_some());
    assert_eq!(
        header("content-type"),
        Some("application/json;charset=utf-8")
    );
    let n: serde_json::Value = serde_json::from_str(body).unwrap();
    for k in [
        "TopicOwner",
        "TopicName",
        "Subscriber",
        "SubscriptionName",
        "MessageId",
        "Message",
        "MessageMD5",
        "MessageTag",
        "PublishTime",
    ] {
        assert!(n.get(k).is_some(), "{k}: {body}");
    }
    assert_eq!(n["TopicName"], TOPIC);
    assert_eq!(n["MessageId"], rec_id(&s.handle));
}

fn rec_id(h: &Handle) -> String {
    h.sim().mns.messages().back().unwrap().id.clone()
}

#[tokio::test]
async fn a_push_to_a_closed_port_is_an_error_attempt_and_is_retried() {
    // Bind then drop: nothing listens there any more.
    let addr = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let config = SimConfig {
        subscribe_handler: false,
        subscriptions: vec![format!("{TOPIC}=http://{addr}/x").parse().unwrap()],
        ..SimConfig::default()
    };
    let s = server_with(config, None, Mode::Step).await;
    let xml = format!("<Message {NS}><MessageBody>hi</MessageBody></Message>");
    let a = s
        .call("POST", &format!("/topics/{TOPIC}/messages"), &xml)
        .await;
    assert_eq!(a.status, 201);
    // STEP mode: deliver the push, then wait for the shell's answer.
    let mut state = s.handle.state();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let answered = {
            let sim = s.handle.sim();
            sim.mns
                .messages()
                .back()
                .unwrap()
                .attempts
                .first()
                .and_then(|a| a.outcome.clone())
        };
        if let Some(outcome) = answered {
            assert!(matches!(outcome, PushOutcome::Error(_)), "{outcome:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "never answered");
        if s.handle.sim().bus().is_empty() {
            let _ = tokio::time::timeout(Duration::from_millis(200), state.changed()).await;
        } else {
            s.handle.call(Command::Step).await.unwrap();
        }
    }
    // A retry is scheduled on the virtual clock.
    let sim = s.handle.sim();
    assert!(sim.next_due().is_some_and(|d| d >= 10_000));
}

#[tokio::test]
async fn batch_send_and_batch_delete_as_the_sdk_sends_them() {
    let s = server().await;
    assert_eq!(
        s.call("PUT", "/queues/b", &format!("<Queue {NS}/>"))
            .await
            .status,
        201
    );
    let batch = format!(
        "<Messages {NS}><Message><MessageBody>a</MessageBody></Message><Message><MessageBody>b</MessageBody><Priority>1</Priority></Message></Messages>"
    );
    let a = s.call("POST", "/queues/b/messages", &batch).await;
    let t = a.text();
    assert_eq!(a.status, 201, "{t}");
    assert!(t.contains(&format!("<Messages {NS}>")), "{t}");
    assert_eq!(t.matches("<MessageId>").count(), 2, "{t}");
    let a = s
        .call(
            "GET",
            "/queues/b/messages?numOfMessages=16&peekonly=true",
            "",
        )
        .await;
    let t = a.text();
    assert_eq!(t.matches("<MessageId>").count(), 2, "{t}");
    assert!(!t.contains("<ReceiptHandle>"), "{t}");
    let a = s
        .call(
            "GET",
            "/queues/b/messages?numOfMessages=16&waitseconds=0",
            "",
        )
        .await;
    let t = a.text();
    // Priority 1 first.
    assert_eq!(element(&t, "MessageBody").as_deref(), Some("b"), "{t}");
    let handles: Vec<String> = t
        .split("<ReceiptHandle>")
        .skip(1)
        .filter_map(|p| p.split("</ReceiptHandle>").next().map(str::to_owned))
        .collect();
    assert_eq!(handles.len(), 2);
    let body = format!(
        "<ReceiptHandles {NS}><ReceiptHandle>{}</ReceiptHandle><ReceiptHandle>FFFF-00</ReceiptHandle></ReceiptHandles>",
        handles[0]
    );
    let a = s.call("DELETE", "/queues/b/messages", &body).await;
    let t = a.text();
    assert_eq!(a.status, 404, "{t}");
    assert!(t.contains(&format!("<Errors {NS}>")), "{t}");
    assert_eq!(element(&t, "ErrorCode").as_deref(), Some("MessageNotExist"));
    assert_eq!(element(&t, "ReceiptHandle").as_deref(), Some("FFFF-00"));
    assert_request_id(&a);
    let body = format!(
        "<ReceiptHandles {NS}><ReceiptHandle>{}</ReceiptHandle></ReceiptHandles>",
        handles[1]
    );
    assert_eq!(
        s.call("DELETE", "/queues/b/messages", &body).await.status,
        204
    );
    let t = s.call("GET", "/queues/b", "").await.text();
    assert_eq!(element(&t, "InactiveMessages").as_deref(), Some("0"), "{t}");
    assert_eq!(element(&t, "ActiveMessages").as_deref(), Some("0"), "{t}");
}

#[tokio::test]
async fn characters_xml_cannot_hold_are_refused_in_bodies_and_tags() {
    let s = server().await;
    assert_eq!(
        s.call("PUT", "/queues/q", &format!("<Queue {NS}/>"))
            .await
            .status,
        201
    );
    let a = s
        .call(
            "POST",
            "/queues/q/messages",
            &format!("<Message {NS}><MessageBody>a&#1;b</MessageBody></Message>"),
        )
        .await;
    assert_error(&a, 400, "InvalidArgument");
    let m = element(&a.text(), "Message").unwrap();
    assert!(m.contains("U+0001") && m.contains("character 2"), "{m}");
    // Nothing was stored: nothing to receive.
    let a = s.call("GET", "/queues/q/messages?waitseconds=0", "").await;
    assert_error(&a, 404, "MessageNotExist");
    // A batch is all or none.
    let batch = format!(
        "<Messages {NS}><Message><MessageBody>fine</MessageBody></Message><Message><MessageBody>x&#31;</MessageBody></Message></Messages>"
    );
    assert_error(
        &s.call("POST", "/queues/q/messages", &batch).await,
        400,
        "InvalidArgument",
    );
    assert_error(
        &s.call("GET", "/queues/q/messages?waitseconds=0", "").await,
        404,
        "MessageNotExist",
    );
    // Topics: the body, and a tag with a line break.
    let path = format!("/topics/{TOPIC}/messages");
    let a = s
        .call(
            "POST",
            &path,
            &format!("<Message {NS}><MessageBody>&#27;[31m</MessageBody></Message>"),
        )
        .await;
    assert_error(&a, 400, "InvalidArgument");
    assert!(a.text().contains("U+001B"), "{}", a.text());
    let a = s
        .call(
            "POST",
            &path,
            &format!(
                "<Message {NS}><MessageBody>ok</MessageBody><MessageTag>a&#10;b</MessageTag></Message>"
            ),
        )
        .await;
    assert_error(&a, 400, "InvalidArgument");
    assert!(a.text().contains("MessageTag"), "{}", a.text());
    // Line breaks and tabs in a body are fine, and come back well-formed.
    let a = s
        .call(
            "POST",
            "/queues/q/messages",
            &format!("<Message {NS}><MessageBody>a&#10;\tb</MessageBody></Message>"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let a = s.call("GET", "/queues/q/messages?waitseconds=0", "").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(element(&a.text(), "MessageBody").as_deref(), Some("a\n\tb"));
}

#[tokio::test]
async fn head_is_refused_and_consumes_nothing() {
    let s = server().await;
    s.call("PUT", "/queues/q", &format!("<Queue {NS}/>")).await;
    let a = s
        .call(
            "POST",
            "/queues/q/messages",
            &format!("<Message {NS}><MessageBody>keep me</MessageBody></Message>"),
        )
        .await;
    assert_eq!(a.status, 201);
    for path in ["/queues/q/messages", "/queues/q", "/topics", "/queues"] {
        let a = s.call("HEAD", path, "").await;
        assert_eq!(a.status, 405, "{path}");
        assert_request_id(&a);
    }
    let a = s.call("GET", "/queues/q/messages?waitseconds=0", "").await;
    assert_eq!(a.status, 200, "{}", a.text());
    assert_eq!(element(&a.text(), "DequeueCount").as_deref(), Some("1"));
}

#[tokio::test]
async fn subscribe_refuses_endpoints_it_could_never_push_to_and_caps_a_topic() {
    let s = server().await;
    let sub = |endpoint: &str| {
        format!("<Subscription {NS}><Endpoint>{endpoint}</Endpoint></Subscription>")
    };
    let long = format!("http://{}/", "h".repeat(5000));
    for bad in [
        "http://[::1",
        "http://127.0.0.1:99999/push",
        long.as_str(),
        "http://bücher.example/",
    ] {
        let a = s
            .call(
                "PUT",
                &format!("/topics/{TOPIC}/subscriptions/bad"),
                &sub(bad),
            )
            .await;
        assert_error(&a, 400, "InvalidArgument");
    }
    assert_error(
        &s.call("GET", &format!("/topics/{TOPIC}/subscriptions/bad"), "")
            .await,
        404,
        "SubscriptionNotExist",
    );
    // The flow's topic has the simulated function's subscription already.
    s.call("PUT", "/topics/many", SDK_TOPIC).await;
    for i in 0..100 {
        let a = s
            .call(
                "PUT",
                &format!("/topics/many/subscriptions/s{i}"),
                &sub("http://127.0.0.1:9/push"),
            )
            .await;
        assert_eq!(a.status, 201, "{i}: {}", a.text());
    }
    let a = s
        .call(
            "PUT",
            "/topics/many/subscriptions/one-more",
            &sub("http://127.0.0.1:9/push"),
        )
        .await;
    assert_error(&a, 403, "SubscriptionLimitExceeded");
}

#[tokio::test]
async fn send_message_numbers_zero_delay_and_range_messages() {
    let s = server().await;
    let q = format!("<Queue {NS}><DelaySeconds>60</DelaySeconds></Queue>");
    assert_eq!(s.call("PUT", "/queues/slow", &q).await.status, 201);
    let send = |extra: &str| format!("<Message {NS}><MessageBody>m</MessageBody>{extra}</Message>");
    // An explicit 0 is no delay, not the queue's 60 s.
    let a = s
        .call(
            "POST",
            "/queues/slow/messages",
            &send("<DelaySeconds>0</DelaySeconds>"),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.text());
    let a = s
        .call("GET", "/queues/slow/messages?waitseconds=0", "")
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    // Absent: the queue's default.
    s.call("POST", "/queues/slow/messages", &send("")).await;
    let a = s
        .call("GET", "/queues/slow/messages?waitseconds=0", "")
        .await;
    assert_error(&a, 404, "MessageNotExist");

    for (extra, says) in [
        ("<Priority>300</Priority>", "between 1 and 16, got 300"),
        ("<Priority>0</Priority>", "between 1 and 16, got 0"),
        ("<Priority>high</Priority>", "between 1 and 16"),
        (
            "<DelaySeconds>18446744073709551615</DelaySeconds>",
            "between 0 and 604800, got 18446744073709551615",
        ),
        (
            "<DelaySeconds>99999999999999999999999</DelaySeconds>",
            "got 99999999999999999999999",
        ),
    ] {
        let a = s.call("POST", "/queues/slow/messages", &send(extra)).await;
        assert_error(&a, 400, "InvalidArgument");
        let m = element(&a.text(), "Message").unwrap();
        assert!(m.contains(says), "{extra}: {m}");
    }
}

#[tokio::test]
async fn content_md5_must_match_the_body() {
    let creds = Credentials {
        access_key_id: "AKID".into(),
        access_key_secret: "secret".into(),
    };
    let s = server_with(SimConfig::default(), Some(creds), Mode::Run).await;
    assert_eq!(
        s.call("PUT", "/queues/q", &format!("<Queue {NS}/>"))
            .await
            .status,
        201
    );
    let good = format!("<Message {NS}><MessageBody>pay 1</MessageBody></Message>");
    let evil = format!("<Message {NS}><MessageBody>pay 1000</MessageBody></Message>");
    // A signature made for one body cannot carry another.
    let a = s
        .call_signed_for("POST", "/queues/q/messages", &good, &evil, &[])
        .await;
    assert_error(&a, 400, "InvalidDegist");
    assert!(a.text().contains("Content-MD5"), "{}", a.text());
    assert_eq!(
        s.call("POST", "/queues/q/messages", &good).await.status,
        201,
        "the SDK form (base64 of the hex digest) passes"
    );
    // The RFC 1864 form (base64 of the raw digest) passes too, unsigned.
    let open = server().await;
    open.call("PUT", "/queues/q", &format!("<Queue {NS}/>"))
        .await;
    let md5 = base64::engine::general_purpose::STANDARD.encode(Md5::digest(good.as_bytes()));
    let url = format!("{}/queues/q/messages", open.base);
    let a = send(
        "POST",
        &url,
        &[("content-md5", md5.as_str())],
        Bytes::from(good.clone()),
    )
    .await
    .unwrap();
    assert_eq!(a.status, 201, "{}", a.text());
    let a = send(
        "POST",
        &url,
        &[("content-md5", md5.as_str())],
        Bytes::from(evil),
    )
    .await
    .unwrap();
    assert_error(&a, 400, "InvalidDegist");
}
