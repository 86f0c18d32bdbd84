//! Connector ingest (seed 001, "Connector Ingest Profiles"): per-connector defaults for
//! `adapter`, `channel`, `fromRole`, `toRole` and `type`; explicit request values always win;
//! strict mode rejects a request that conflicts with its profile; and when `externalSessionId`
//! is omitted it is extracted from the channel's own payload shape (Telegram chat id, Slack
//! channel id, Discord channel id).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The profile fields, in the runbook's order.
pub const PROFILE_FIELDS: [&str; 5] = ["adapter", "channel", "fromRole", "toRole", "type"];

/// The routing fields a connector profile sets and an ingest request may carry explicitly.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConnectorProfile {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adapter: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_role: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub to_role: Option<String>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

impl ConnectorProfile {
    /// A field by its wire name; empty strings count as absent.
    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "adapter" => self.adapter.as_deref(),
            "channel" => self.channel.as_deref(),
            "fromRole" => self.from_role.as_deref(),
            "toRole" => self.to_role.as_deref(),
            "type" => self.kind.as_deref(),
            _ => None,
        }
        .filter(|v| !v.is_empty())
    }
}

/// `AGENT_GATEWAY_INGEST_CONNECTOR_PROFILES`: connector id to profile, where a profile is an
/// object or a string naming the channel.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ConnectorProfiles(pub BTreeMap<String, ConnectorProfile>);

#[derive(Deserialize)]
#[serde(untagged)]
enum RawProfile {
    Channel(String),
    Full(ConnectorProfile),
}

impl ConnectorProfiles {
    pub fn parse(text: &str) -> Result<Self, String> {
        let de = &mut serde_json::Deserializer::from_str(text);
        let raw: BTreeMap<String, Value> = serde_path_to_error::deserialize(de).map_err(|e| e.to_string())?;
        let mut out = BTreeMap::new();
        for (id, v) in raw {
            let unknown = v.as_object().is_some_and(|o| o.keys().any(|k| !PROFILE_FIELDS.contains(&k.as_str())));
            let p = match serde_json::from_value::<RawProfile>(v).ok().filter(|_| !unknown) {
                Some(RawProfile::Channel(c)) => ConnectorProfile { channel: Some(c), ..Default::default() },
                Some(RawProfile::Full(p)) => p,
                None => {
                    return Err(format!(
                        "{id}: a profile is a channel name or an object of adapter, channel, fromRole, toRole, type (strings)"
                    ));
                }
            };
            out.insert(id, p);
        }
        Ok(ConnectorProfiles(out))
    }

    pub fn get(&self, connector: &str) -> Option<&ConnectorProfile> {
        self.0.get(connector)
    }
}

/// The ingest request body.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestRequest {
    pub connector_id: Option<String>,
    /// `adapter`, `channel`, `fromRole`, `toRole`, `type`, as the request gives them.
    #[serde(flatten)]
    pub fields: ConnectorProfile,
    pub external_session_id: Option<Value>,
    #[serde(default)]
    pub payload: Value,
}

/// Where a resolved value came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    Explicit,
    Profile,
    Fallback,
    Default,
}

/// Why an ingest was not applied (stable ids, shown in telemetry as reject reasons).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Reject {
    ProfileConflict { field: String, profile: String, request: String },
    MissingChannel,
    MissingExternalSessionId,
}

impl Reject {
    pub fn reason(&self) -> String {
        match self {
            Reject::ProfileConflict { field, .. } => format!("profile_conflict:{field}"),
            Reject::MissingChannel => "missing_channel".into(),
            Reject::MissingExternalSessionId => "missing_external_session_id".into(),
        }
    }
}

/// A request resolved against its profile.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolved {
    pub connector_id: Option<String>,
    pub adapter: String,
    pub channel: String,
    pub from_role: String,
    pub to_role: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub external_session_id: String,
    pub external_session_id_source: Source,
    pub field_sources: BTreeMap<&'static str, Source>,
}

const DEFAULTS: [(&str, &str); 5] = [
    ("adapter", "external_webhook"),
    ("channel", ""),
    ("fromRole", "observer"),
    ("toRole", "author"),
    ("type", "observer_message"),
];

/// Applies profile defaults, strict-mode checks and session-id fallback extraction.
pub fn resolve(req: &IngestRequest, profiles: &ConnectorProfiles, strict: bool) -> Result<Resolved, Reject> {
    let profile = req.connector_id.as_deref().and_then(|c| profiles.get(c));
    let mut values = BTreeMap::new();
    let mut sources = BTreeMap::new();
    for (field, default) in DEFAULTS {
        let from_profile = profile.and_then(|p| p.field(field));
        let (value, source) = match (req.fields.field(field), from_profile) {
            (Some(r), Some(p)) if strict && r != p => {
                return Err(Reject::ProfileConflict { field: field.into(), profile: p.into(), request: r.into() });
            }
            (Some(r), _) => (r.to_string(), Source::Explicit),
            (None, Some(p)) => (p.to_string(), Source::Profile),
            (None, None) => (default.to_string(), Source::Default),
        };
        values.insert(field, value);
        sources.insert(field, source);
    }
    let channel = values["channel"].to_ascii_lowercase();
    if channel.is_empty() {
        return Err(Reject::MissingChannel);
    }
    let (external_session_id, source) = match req.external_session_id.as_ref().and_then(id_text) {
        Some(id) => (id, Source::Explicit),
        None => {
            (fallback_session_id(&channel, &req.payload).ok_or(Reject::MissingExternalSessionId)?, Source::Fallback)
        }
    };
    Ok(Resolved {
        connector_id: req.connector_id.clone(),
        adapter: values["adapter"].clone(),
        channel,
        from_role: values["fromRole"].clone(),
        to_role: values["toRole"].clone(),
        kind: values["type"].clone(),
        external_session_id,
        external_session_id_source: source,
        field_sources: sources,
    })
}

/// A chat or channel id as text: ids arrive as JSON numbers (Telegram) or strings.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, key| cur.get(key))
}

/// Channel-aware extraction of the external session id from a webhook payload.
pub fn fallback_session_id(channel: &str, payload: &Value) -> Option<String> {
    let paths: &[&[&str]] = match channel {
        "telegram" => &[
            &["message", "chat", "id"],
            &["edited_message", "chat", "id"],
            &["channel_post", "chat", "id"],
            &["edited_channel_post", "chat", "id"],
            &["callback_query", "message", "chat", "id"],
            &["my_chat_member", "chat", "id"],
            &["chat_member", "chat", "id"],
        ],
        "slack" => &[&["event", "channel"], &["channel", "id"], &["event", "item", "channel"], &["channel_id"]],
        "discord" => &[&["channel_id"], &["d", "channel_id"]],
        _ => &[],
    };
    paths.iter().find_map(|p| at(payload, p).and_then(id_text))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn profiles() -> ConnectorProfiles {
        ConnectorProfiles::parse(
            r#"{"telegram_main": {"adapter": "external_webhook", "channel": "telegram", "fromRole": "observer",
                "toRole": "author", "type": "observer_message"}, "slack_main": "slack"}"#,
        )
        .unwrap()
    }

    #[test]
    fn runbook_example_parses_with_shorthand() {
        let p = profiles();
        assert_eq!(p.get("slack_main").unwrap().channel.as_deref(), Some("slack"));
        assert!(ConnectorProfiles::parse(r#"{"x": 5}"#).is_err());
        assert!(ConnectorProfiles::parse(r#"{"x": {"chanel": "slack"}}"#).is_err());
    }

    #[test]
    fn explicit_wins_and_profile_fills() {
        let req = IngestRequest {
            connector_id: Some("telegram_main".into()),
            fields: ConnectorProfile { to_role: Some("critic".into()), ..Default::default() },
            payload: json!({"message": {"chat": {"id": -100123}}}),
            ..Default::default()
        };
        let r = resolve(&req, &profiles(), false).unwrap();
        assert_eq!((r.channel.as_str(), r.to_role.as_str()), ("telegram", "critic"));
        assert_eq!(r.field_sources["toRole"], Source::Explicit);
        assert_eq!(r.field_sources["channel"], Source::Profile);
        assert_eq!((r.external_session_id.as_str(), r.external_session_id_source), ("-100123", Source::Fallback));
        // Strict mode refuses the same request: toRole conflicts with the profile.
        let e = resolve(&req, &profiles(), true).unwrap_err();
        assert_eq!(e.reason(), "profile_conflict:toRole");
    }

    #[test]
    fn fallback_shapes() {
        let cases = [
            ("telegram", json!({"callback_query": {"message": {"chat": {"id": 42}}}}), Some("42")),
            ("telegram", json!({"edited_message": {"chat": {"id": 7}}}), Some("7")),
            ("slack", json!({"event": {"channel": "C024BE91L"}}), Some("C024BE91L")),
            ("slack", json!({"channel": {"id": "C1"}}), Some("C1")),
            ("discord", json!({"d": {"channel_id": "1111"}}), Some("1111")),
            ("discord", json!({"channel_id": "2222"}), Some("2222")),
            ("slack", json!({"message": {"chat": {"id": 1}}}), None),
        ];
        for (channel, payload, want) in cases {
            assert_eq!(fallback_session_id(channel, &payload).as_deref(), want, "{channel} {payload}");
        }
    }
}
