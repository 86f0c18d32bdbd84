//! Every observation maps to exactly one outcome, and that outcome is the first of the
//! runbook's predicates that holds, evaluated independently here.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn status() -> impl Strategy<Value = Option<u16>> {
    prop_oneof![Just(Some(200)), Just(Some(201)), Just(Some(401)), Just(Some(500)), Just(None)]
}

fn observation() -> impl Strategy<Value = ChannelObservation> {
    let ingest_body = prop_oneof![
        Just(json!({"ingestApplied": true, "sessionId": "s1"})),
        Just(json!({"ingestApplied": false, "rejectReason": "profile_conflict:channel"})),
        Just(json!({"unexpected": 1})),
        Just(Value::Null),
    ];
    let lookup_body = prop_oneof![
        Just(json!({"sessions": [{"id": "s1", "externalSessionId": "42"}]})),
        Just(json!({"sessions": [{"id": "s1", "externalSessionId": "43"}]})),
        Just(json!({"sessions": []})),
        Just(Value::Null),
    ];
    let telemetry_body = prop_oneof![
        Just(json!({"connectors": [{"connectorId": "tg", "channel": "telegram", "events": 2, "accepted": 1}]})),
        Just(json!({"connectors": [{"connectorId": "tg", "channel": "telegram", "events": 2, "accepted": 0}]})),
        Just(json!({"connectors": []})),
        Just(Value::Null),
    ];
    (
        status(),
        ingest_body,
        proptest::option::of((status(), lookup_body)),
        proptest::option::of((status(), telemetry_body)),
    )
        .prop_map(|(s, ib, lookup, telemetry)| ChannelObservation {
            connector_id: "tg".into(),
            channel: "telegram".into(),
            expected_external_session_id: "42".into(),
            ingest: Exchange { status: s, body: ib },
            lookup: lookup.map(|(status, body)| Exchange { status, body }),
            telemetry: telemetry.map(|(status, body)| Exchange { status, body }),
        })
}

/// The runbook's table, read row by row, written independently of `classify`.
fn by_table(o: &ChannelObservation) -> Option<FailureMode> {
    let rows: [(FailureMode, &dyn Fn() -> Option<bool>); 7] = [
        (FailureMode::IngestHttpError, &|| Some(o.ingest.status != Some(201))),
        (FailureMode::IngestNotApplied, &|| o.ingest.body.get("ingestApplied")?.as_bool().map(|a| !a)),
        (FailureMode::SessionsLookupError, &|| Some(o.lookup.as_ref()?.status != Some(200))),
        (FailureMode::FallbackSessionMismatch, &|| {
            o.lookup.as_ref()?.body.get("sessions")?.as_array()?;
            Some(looked_up_external_id(o).as_deref() != Some("42"))
        }),
        (FailureMode::TelemetryHttpError, &|| Some(o.telemetry.as_ref()?.status != Some(200))),
        (FailureMode::TelemetryNoConnectorEvents, &|| telemetry_counts(o).map(|(e, _)| e == 0)),
        (FailureMode::TelemetryZeroAccepted, &|| telemetry_counts(o).map(|(_, a)| a == 0)),
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
    fn exactly_one_outcome_and_the_first_predicate_that_holds(o in observation()) {
        prop_assert_eq!(classify(&o), by_table(&o));
    }
}

#[test]
fn ids_are_stable_snake_case() {
    for m in FailureMode::ALL {
        assert_eq!(serde_json::to_value(m).unwrap(), json!(m.id()));
        assert!(!m.first_action().is_empty());
    }
}
