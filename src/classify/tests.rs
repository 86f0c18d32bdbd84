//! Every observation maps to exactly one outcome, and that outcome is the first of the
//! runbook's predicates that holds, evaluated independently here on the raw JSON answers.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

/// A raw exchange: status, whether the answer was cut, and its JSON.
type Raw = (Option<u16>, bool, Value);

fn status() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![Just(Some(200)), Just(Some(201)), Just(Some(401)), Just(Some(500)), Just(None)]
}

fn raw(bodies: Vec<Value>) -> impl Strategy<Value = Raw> {
    (status(), proptest::bool::weighted(0.1), proptest::sample::select(bodies))
}

fn probe<T: serde::de::DeserializeOwned>(r: &Raw) -> Probe<T> {
    let failure = match (r.0, r.1) {
        (None, _) => Some(TransportFailure::Timeout),
        (Some(_), true) => Some(TransportFailure::Closed),
        _ => None,
    };
    let answer = if failure.is_none() { serde_json::from_value(r.2.clone()).ok() } else { None };
    Probe { status: r.0, failure, answer }
}

fn raws() -> impl Strategy<Value = (Raw, Option<Raw>, Option<Raw>)> {
    let ingest = raw(vec![
        json!({"ingestApplied": true, "sessionId": "s1"}),
        json!({"ingestApplied": false, "rejectReason": "profile_conflict:channel"}),
        json!({"unexpected": 1}),
        Value::Null,
    ]);
    let lookup = raw(vec![
        json!({"sessions": [{"id": "s1", "externalSessionId": "42"}]}),
        json!({"sessions": [{"id": "s1", "externalSessionId": 42}]}),
        json!({"sessions": [{"id": "s1", "externalSessionId": "43"}]}),
        json!({"sessions": []}),
        Value::Null,
    ]);
    let telemetry = raw(vec![
        json!({"totals": {"events": 2, "accepted": 1}, "connectors": [{"connectorId": "tg", "channel": "telegram", "events": 2, "accepted": 1}]}),
        json!({"totals": {"events": 2, "accepted": 0}, "connectors": [{"connectorId": "tg", "channel": "telegram", "events": 2, "accepted": 0}]}),
        json!({"totals": {"events": 0, "accepted": 0}, "connectors": []}),
        json!({"connectors": []}),
        json!({"totals": {"events": 1, "accepted": 1}}),
        Value::Null,
    ]);
    (ingest, proptest::option::of(lookup), proptest::option::of(telemetry))
}

fn observation(r: &(Raw, Option<Raw>, Option<Raw>)) -> ChannelObservation {
    ChannelObservation {
        connector_id: "tg".into(),
        channel: "telegram".into(),
        expected_external_session_id: "42".into(),
        ingest: probe(&r.0),
        lookup: r.1.as_ref().map(probe),
        telemetry: r.2.as_ref().map(probe),
    }
}

/// The runbook's table, read row by row on the raw answers, written independently of `classify`.
fn by_table(r: &(Raw, Option<Raw>, Option<Raw>)) -> Option<FailureMode> {
    let complete = |x: &Raw, s: u16| x.0 == Some(s) && !x.1;
    let (ingest, lookup, telemetry) = r;
    let external_id = || -> Option<String> {
        let sid = ingest.2.get("sessionId")?.as_str()?;
        let s = lookup.as_ref()?.2.get("sessions")?.as_array()?.iter().find(|s| s["id"] == sid)?;
        match &s["externalSessionId"] {
            Value::String(x) => Some(x.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    };
    let counts = || -> Option<(u64, u64)> {
        let t = &telemetry.as_ref()?.2;
        let mut found = (0, 0);
        for g in t.get("connectors")?.as_array()? {
            if g["connectorId"] == "tg" && (g["channel"].is_null() || g["channel"] == "telegram") {
                found = (found.0 + g["events"].as_u64()?, found.1 + g["accepted"].as_u64()?);
            }
        }
        Some(found)
    };
    let rows: [(FailureMode, &dyn Fn() -> Option<bool>); 7] = [
        (FailureMode::IngestHttpError, &|| Some(!complete(ingest, 201))),
        (FailureMode::IngestNotApplied, &|| ingest.2.get("ingestApplied")?.as_bool().map(|a| !a)),
        (FailureMode::SessionsLookupError, &|| Some(!complete(lookup.as_ref()?, 200))),
        (FailureMode::FallbackSessionMismatch, &|| {
            lookup.as_ref()?.2.get("sessions")?.as_array()?;
            Some(external_id().as_deref() != Some("42"))
        }),
        (FailureMode::TelemetryHttpError, &|| Some(!complete(telemetry.as_ref()?, 200))),
        (FailureMode::TelemetryNoConnectorEvents, &|| counts().map(|(e, _)| e == 0)),
        (FailureMode::TelemetryZeroAccepted, &|| counts().map(|(_, a)| a == 0)),
    ];
    for (mode, holds) in rows {
        match holds() {
            Some(true) => return Some(mode),
            Some(false) => {}
            // The data this row needs is missing or malformed: no known predicate decides.
            None => return Some(FailureMode::Unknown),
        }
    }
    None
}

proptest! {
    #[test]
    fn exactly_one_outcome_and_the_first_predicate_that_holds(r in raws()) {
        prop_assert_eq!(classify(&observation(&r)), by_table(&r));
    }
}

#[test]
fn no_answer_is_an_ingest_http_error_whatever_else_was_seen() {
    let o = ChannelObservation {
        ingest: Probe { status: Some(201), failure: Some(TransportFailure::Timeout), answer: None },
        ..Default::default()
    };
    assert_eq!(classify(&o), Some(FailureMode::IngestHttpError));
    assert_eq!(classify(&ChannelObservation::default()), Some(FailureMode::IngestHttpError));
}

#[test]
fn ids_are_stable_snake_case() {
    for m in FailureMode::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.id()));
        assert!(!m.first_action().is_empty());
    }
}
