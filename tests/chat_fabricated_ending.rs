//! A gateway that passes a truncated stream off as whole (it appends a finish reason and
//! `[DONE]` of its own, as LiteLLM was seen to) is caught from the providers' journal: the client
//! got a whole answer that no provider gave. The gateway here is a small real server on loopback
//! in front of gatedrill's own mocks.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::IntoResponse;
use gatedrill::drill::fleet::{Fleet, FleetSpec, RemoteFleet};
use gatedrill::drill::profile::{TargetApi, TargetProfile};
use gatedrill::drill::runner::{RunOptions, run_scenario};
use gatedrill::drill::target::TargetSpec;
use gatedrill::mock::config::FleetConfig;
use gatedrill::mock::{FleetOptions, ProviderFleet};

/// Forwards a chat completion to the OpenAI mock and, whatever came back, ends the stream with
/// a finish reason and `[DONE]`.
async fn fabricate(State(upstream): State<Arc<String>>, body: Bytes) -> axum::response::Response {
    // The client's model is a role; the primary serves it as gpt-5.
    let mut body: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
    body["model"] = "gpt-5".into();
    let got = gatedrill::tls::builder()
        .build()
        .unwrap()
        .post(format!("{upstream}/v1/chat/completions"))
        .bearer_auth("sk-gatedrill-openai-0001")
        .json(&body)
        .send()
        .await;
    let mut text = match got {
        Ok(r) => r.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    };
    text.push_str("data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n");
    ([("content-type", "text/event-stream")], text).into_response()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_answer_no_provider_gave_is_truncated_success_accepted() {
    let fleet = ProviderFleet::start(FleetOptions::new(FleetConfig::embedded())).await.unwrap();
    let upstream = Arc::new(fleet.url("openai").unwrap().to_string());
    let app = axum::Router::new().route("/v1/chat/completions", axum::routing::post(fabricate)).with_state(upstream);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let gateway = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let spec = FleetSpec::parse(
        &fleet.endpoints().iter().map(|e| format!("{}={}", e.provider, e.url)).collect::<Vec<_>>().join(","),
    )
    .unwrap();
    let loaded = gatedrill::scenario::load(std::path::Path::new("tests/data/remote/fabricated_ending.toml")).unwrap();
    let described = Fleet::Remote(RemoteFleet::describe(&spec, &FleetConfig::embedded()));
    let declared = gatedrill::drill::needs::assumed_env(&described, &loaded);
    let profile = TargetProfile { api: TargetApi::Openai, ..TargetProfile::default() };
    let opts = RunOptions {
        target: TargetSpec::Url(gateway),
        seed: None,
        out: std::env::temp_dir().join(format!("gatedrill-fabricated-{}", std::process::id())),
        allow_load: false,
        cancel: Default::default(),
        secrets: Default::default(),
        progress: gatedrill::drill::progress::Progress::hidden(),
        segment: None,
        baseline: None,
        fleet: Some(spec),
        declared: Some(declared),
        profile: Arc::new(profile),
    };
    let r = run_scenario(&loaded, &opts).await;
    assert!(r.skipped.is_none(), "{:?}", r.skipped);
    let found: Vec<_> = r.findings.iter().map(|f| (f.finding, f.detail.clone())).collect();
    assert!(
        found
            .iter()
            .any(|(f, d)| *f == gatedrill::classify::conduct::Finding::TruncatedSuccessAccepted
                && d.contains("openai x1")),
        "{found:#?}"
    );
    // The client was told it got a whole answer: only the journal shows otherwise.
    assert!(r.steps[0].passed, "{:#?}", r.steps);
    assert!(r.passed, "the finding is the one the scenario expects: {:#?}", r.problems);
    fleet.shutdown().await;
}
