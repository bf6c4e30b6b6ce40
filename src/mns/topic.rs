//! topic: topics and their subscriptions: `CreateTopic`,
//! `SetTopicAttributes`, `DeleteTopic`, `Subscribe`, `Unsubscribe`,
//! `SetSubscriptionAttributes`, subscribing the simulated function, and
//! real endpoints subscribed from the command line ([`SubscribeSpec`]).
//!
//! It changes topics and subscriptions only: it must not touch queues, the
//! message log or notifications in flight (deleting a topic or a
//! subscription lets its pushes in flight finish), nor the bus.

use super::Mns;
use super::check::{MAX_SUBSCRIPTIONS_PER_TOPIC, parse_http_endpoint, validate_name};
use super::model::{
    Endpoint, MnsError, NotifyFormat, NotifyStrategy, Subscription, Topic, TopicAttributes,
};
use crate::kernel::Millis;

/// A real endpoint to subscribe to a topic at start, from the command line:
/// `TOPIC=URL[,format=JSON|XML|SIMPLIFIED][,strategy=BACKOFF_RETRY|EXPONENTIAL_DECAY_RETRY][,name=NAME]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscribeSpec {
    pub topic: String,
    pub url: String,
    pub format: NotifyFormat,
    pub strategy: NotifyStrategy,
    /// The subscription name; derived from the URL when absent.
    pub name: String,
}

impl std::str::FromStr for SubscribeSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let usage = "expected TOPIC=URL[,format=JSON|XML|SIMPLIFIED][,strategy=BACKOFF_RETRY|EXPONENTIAL_DECAY_RETRY][,name=NAME]";
        let Some((topic, rest)) = s.split_once('=') else {
            return Err(format!("`{s}`: {usage}"));
        };
        let topic = topic.trim();
        if topic.is_empty() {
            return Err(format!("`{s}`: the topic is empty; {usage}"));
        }
        let mut parts = rest.split(',');
        let url = parts.next().unwrap_or("").trim();
        parse_http_endpoint(url).map_err(|e| format!("`{s}`: {e}"))?;
        let mut spec = SubscribeSpec {
            topic: topic.to_owned(),
            url: url.to_owned(),
            format: NotifyFormat::Json,
            strategy: NotifyStrategy::BackoffRetry,
            name: default_subscription_name(url),
        };
        for part in parts {
            let Some((k, v)) = part.split_once('=') else {
                return Err(format!("`{s}`: option `{part}` is not key=value; {usage}"));
            };
            let v = v.trim();
            match k.trim().to_ascii_lowercase().as_str() {
                "format" => {
                    spec.format =
                        NotifyFormat::parse(&v.to_ascii_uppercase()).ok_or_else(|| {
                            format!("`{s}`: format `{v}` is not JSON, XML or SIMPLIFIED")
                        })?;
                }
                "strategy" => {
                    spec.strategy = NotifyStrategy::parse(&v.to_ascii_uppercase()).ok_or_else(|| {
                        format!(
                            "`{s}`: strategy `{v}` is not BACKOFF_RETRY or EXPONENTIAL_DECAY_RETRY"
                        )
                    })?;
                }
                "name" => {
                    validate_name("subscription", v).map_err(|e| format!("`{s}`: {e}"))?;
                    v.clone_into(&mut spec.name);
                }
                other => {
                    return Err(format!(
                        "`{s}`: unknown option `{other}` (format, strategy or name)"
                    ));
                }
            }
        }
        Ok(spec)
    }
}

/// `http://127.0.0.1:9000/x` -> `http-127-0-0-1-9000`.
fn default_subscription_name(url: &str) -> String {
    let authority = url
        .strip_prefix("http://")
        .unwrap_or(url)
        .split(['/', '?'])
        .next()
        .unwrap_or("");
    let mut name = String::from("http-");
    for c in authority.chars().take(200) {
        name.push(if c.is_ascii_alphanumeric() { c } else { '-' });
    }
    name
}

impl Mns {
    pub fn ensure_topic(&mut self, name: &str, now: Millis) {
        self.topics.entry(name.to_owned()).or_insert_with(|| Topic {
            name: name.to_owned(),
            subscriptions: Vec::new(),
            created: now,
            modified: now,
            messages: 0,
            attributes: TopicAttributes::default(),
        });
    }

    /// `CreateTopic`: `Ok(true)` when created, `Ok(false)` when an identical
    /// topic exists, `TopicAlreadyExist` when it exists with other
    /// attributes.
    pub fn create_topic(
        &mut self,
        name: &str,
        attributes: TopicAttributes,
        now: Millis,
    ) -> Result<bool, MnsError> {
        validate_name("topic", name)?;
        attributes.validate()?;
        if let Some(t) = self.topics.get(name) {
            return if t.attributes == attributes {
                Ok(false)
            } else {
                Err(MnsError::TopicAlreadyExist(name.to_owned()))
            };
        }
        self.ensure_topic(name, now);
        if let Some(t) = self.topics.get_mut(name) {
            t.attributes = attributes;
        }
        Ok(true)
    }

    /// `SetTopicAttributes`.
    pub fn set_topic_attributes(
        &mut self,
        name: &str,
        attributes: TopicAttributes,
        now: Millis,
    ) -> Result<(), MnsError> {
        attributes.validate()?;
        let t = self
            .topics
            .get_mut(name)
            .ok_or_else(|| MnsError::TopicNotExist(name.to_owned()))?;
        t.attributes = attributes;
        t.modified = now;
        Ok(())
    }

    /// `DeleteTopic`, with its subscriptions (pushes in flight finish).
    pub fn delete_topic(&mut self, name: &str) -> Result<(), MnsError> {
        self.topics
            .remove(name)
            .map(|_| ())
            .ok_or_else(|| MnsError::TopicNotExist(name.to_owned()))
    }

    /// Subscribes the simulated function to a topic (idempotent).
    pub fn subscribe_function(&mut self, topic: &str, function: &str, now: Millis) {
        self.ensure_topic(topic, now);
        let Some(t) = self.topics.get_mut(topic) else {
            return;
        };
        if t.subscriptions
            .iter()
            .any(|s| s.endpoint == Endpoint::Function(function.to_owned()))
        {
            return;
        }
        t.subscriptions.push(Subscription::new(
            function,
            Endpoint::Function(function.to_owned()),
            now,
        ));
    }

    /// Adds or replaces a subscription.
    pub fn subscribe(&mut self, topic: &str, sub: Subscription) -> bool {
        let Some(t) = self.topics.get_mut(topic) else {
            return false;
        };
        t.subscriptions.retain(|s| s.name != sub.name);
        t.subscriptions.push(sub);
        true
    }

    /// `Subscribe`: `Ok(true)` when created, `Ok(false)` when an identical
    /// subscription exists, `SubscriptionAlreadyExist` when it differs.
    pub fn create_subscription(
        &mut self,
        topic: &str,
        sub: Subscription,
    ) -> Result<bool, MnsError> {
        validate_name("subscription", &sub.name)?;
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| MnsError::TopicNotExist(topic.to_owned()))?;
        if let Some(old) = t.subscriptions.iter().find(|s| s.name == sub.name) {
            return if old.same_as(&sub) {
                Ok(false)
            } else {
                Err(MnsError::SubscriptionAlreadyExist(
                    topic.to_owned(),
                    sub.name.clone(),
                ))
            };
        }
        if t.subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_TOPIC {
            return Err(MnsError::SubscriptionLimitExceeded(topic.to_owned()));
        }
        t.subscriptions.push(sub);
        Ok(true)
    }

    /// A subscription by topic and name.
    pub fn subscription(&self, topic: &str, name: &str) -> Result<&Subscription, MnsError> {
        let t = self
            .topics
            .get(topic)
            .ok_or_else(|| MnsError::TopicNotExist(topic.to_owned()))?;
        t.subscriptions
            .iter()
            .find(|s| s.name == name)
            .ok_or_else(|| MnsError::SubscriptionNotExist(topic.to_owned(), name.to_owned()))
    }

    /// `SetSubscriptionAttributes` (the notify strategy is all upstream
    /// lets change).
    pub fn set_subscription_strategy(
        &mut self,
        topic: &str,
        name: &str,
        strategy: NotifyStrategy,
        now: Millis,
    ) -> Result<(), MnsError> {
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| MnsError::TopicNotExist(topic.to_owned()))?;
        let s = t
            .subscriptions
            .iter_mut()
            .find(|s| s.name == name)
            .ok_or_else(|| MnsError::SubscriptionNotExist(topic.to_owned(), name.to_owned()))?;
        s.strategy = strategy;
        s.modified = now;
        Ok(())
    }

    /// `Unsubscribe` (pushes in flight finish).
    pub fn unsubscribe(&mut self, topic: &str, name: &str) -> Result<(), MnsError> {
        let t = self
            .topics
            .get_mut(topic)
            .ok_or_else(|| MnsError::TopicNotExist(topic.to_owned()))?;
        let before = t.subscriptions.len();
        t.subscriptions.retain(|s| s.name != name);
        if t.subscriptions.len() == before {
            return Err(MnsError::SubscriptionNotExist(
                topic.to_owned(),
                name.to_owned(),
            ));
        }
        Ok(())
    }

    /// Subscribes a real endpoint (the command line's `--subscribe`),
    /// creating the topic if needed; replaces a subscription of that name.
    pub fn subscribe_endpoint(
        &mut self,
        spec: &SubscribeSpec,
        now: Millis,
    ) -> Result<(), MnsError> {
        validate_name("subscription", &spec.name)?;
        let endpoint = parse_http_endpoint(&spec.url)?;
        self.ensure_topic(&spec.topic, now);
        if let Some(t) = self.topics.get(&spec.topic)
            && !t.subscriptions.iter().any(|s| s.name == spec.name)
            && t.subscriptions.len() >= MAX_SUBSCRIPTIONS_PER_TOPIC
        {
            return Err(MnsError::SubscriptionLimitExceeded(spec.topic.clone()));
        }
        let mut sub = Subscription::new(&spec.name, endpoint, now);
        sub.format = spec.format;
        sub.strategy = spec.strategy;
        self.subscribe(&spec.topic, sub);
        Ok(())
    }
}
