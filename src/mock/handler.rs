//! The request pipeline every provider runs, whatever its dialect:
//!
//! 1. journal the arrival; 2. ask the rule book for faults (a latency fault stacks with one
//!    outcome fault); 3. wait out a `delay`; 4. answer an outcome fault, or else run the real
//!    checks in the order a provider does (key, body, model, output limit, context window,
//!    quota); 5. answer: plain, or as a stream shaped by any stream fault.
//!
//! Faults come first on purpose: a planned fault is the drill's intent and must not be masked
//! by an incidental check. Each attempt is an [`Attempt`] guard, so an answer the client
//! abandons is journaled as `client_disconnected`, never left `in_flight`.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use tokio::time::Instant;

pub use super::attempt::Attempt;
use super::config::{Dialect, ModelSpec};
use super::dialect::{self, Api, ApiError, ChatRequest};
use super::faults::{Fault, OutageMode, RetryAfterStyle};
use super::journal::{self, AppliedFault, AttemptRecord, Outcome};
use super::listener::{ConnAction, ConnControl, ConnFault};
use super::quota::{Admission, Exceeded, QuotaState};
use super::schedule::{Chosen, MatchInput};
use super::state::Provider;
use super::stream::{self, StreamSpec};
use super::tokens::{self, CountedMessage};
use crate::rng::DrawKey;

/// Bodies up to this size are read, so context overflows are answered by the dialect.
pub const BODY_LIMIT: usize = 32 * 1024 * 1024;
pub(crate) const TEST_ID_HEADER: &str = "x-gatedrill-test-id";

/// The request marker gatedrill's probes carry in their prompt, which a gateway forwards with
/// the message whatever it does with headers: it ties a provider attempt to the client request
/// that caused it, across providers and under concurrency.
const MARKER: &[u8] = b"[gatedrill probe ";

/// The marker's id in a request body (at most 64 id characters), when there is one.
pub(crate) fn marker(body: &[u8]) -> Option<String> {
    let at = memchr::memmem::find(body, MARKER)? + MARKER.len();
    let id: Vec<u8> = body[at..]
        .iter()
        .take(65)
        .take_while(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
        .copied()
        .collect();
    (body.get(at + id.len()) == Some(&b']') && !id.is_empty() && id.len() <= 64)
        .then(|| String::from_utf8_lossy(&id).into_owned())
}
/// Prompts larger than this are counted off the async workers.
const BLOCKING_COUNT_BYTES: usize = 64 * 1024;

/// What every answer needs: the attempt, its request id, and what the faults asked for.
pub(crate) struct Ctx {
    pub(crate) p: Arc<Provider>,
    pub(crate) attempt: Attempt,
    pub(crate) request_id: String,
    pub(crate) should_retry: Option<bool>,
    /// A `delay` fault's wait, spent before the answer starts.
    pub(crate) pre_wait: Duration,
    pub(crate) conn: Option<ConnControl>,
}

/// Chat completions (OpenAI, DeepSeek) and messages (Anthropic).
pub async fn chat(State(p): State<Arc<Provider>>, req: Request) -> Response {
    serve_api(p, req, Api::Chat).await
}

/// OpenAI `POST /v1/responses`.
pub async fn responses(State(p): State<Arc<Provider>>, req: Request) -> Response {
    serve_api(p, req, Api::Responses).await
}

/// OpenAI `POST /v1/embeddings`.
pub async fn embeddings(State(p): State<Arc<Provider>>, req: Request) -> Response {
    serve_api(p, req, Api::Embeddings).await
}

/// Anthropic `POST /v1/messages/count_tokens`.
pub async fn count_tokens(State(p): State<Arc<Provider>>, req: Request) -> Response {
    serve_api(p, req, Api::CountTokens).await
}

/// The pipeline of the module header, for every API route: faults match by path, so the whole
/// catalogue applies to each route.
async fn serve_api(p: Arc<Provider>, req: Request, api: Api) -> Response {
    let arrived = Instant::now();
    let d = p.spec.dialect;
    let (parts, body) = req.into_parts();
    let test_id = parts.headers.get(TEST_ID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_string);
    let key = dialect::api_key(d, &parts.headers);
    let body = axum::body::to_bytes(body, BODY_LIMIT).await;

    let mut rec = AttemptRecord::new(&p.spec.name);
    rec.path = Some(route_path(parts.uri.path()));
    rec.test_id = test_id.or_else(|| body.as_ref().ok().and_then(|b| marker(b)));
    rec.key_fingerprint = key.as_ref().ok().map(|k| p.fingerprint(k));
    let parsed = match &body {
        Ok(b) => {
            rec.body_hash = Some(journal::body_hash(b));
            dialect::parse_request(d, api, b)
        }
        Err(_) => Err(ApiError::TooLarge { limit: BODY_LIMIT }),
    };
    if let Ok(r) = &parsed {
        rec.model = Some(r.model.clone());
        rec.stream = r.stream;
    }
    // Begin first: the journal's sequence number is the request index the draws are keyed on.
    let model = parsed.as_ref().ok().map(|r| r.model.as_str());
    let path = parts.uri.path();
    let stream = rec.stream;
    let test_id = rec.test_id.clone();
    let attempt = Attempt::begin(&p, rec, arrived);
    let input = MatchInput { model, stream, path: Some(path), test_id: test_id.as_deref(), at_accept: false };
    let Decided { draw, completion_id, request_id, pre_wait, first_token_wait, should_retry, outcome: outcome_fault } =
        decide_faults(&p, &attempt, &input, arrived);
    let conn = ConnControl::of(&parts);
    let mut ctx = Ctx { p: p.clone(), attempt, request_id, should_retry, pre_wait, conn };

    if let Some(fault) = &outcome_fault {
        ctx = match answer_outcome_fault(ctx, fault, parsed.as_ref().ok()).await {
            Ok(answered) => return answered,
            Err(ctx) => ctx,
        };
    }
    let key = match key {
        Ok(k) => k,
        Err(e) => return error(ctx, &e, None, None).await,
    };
    if let Err(e) = check_key(&p, &key) {
        return error(ctx, &e, None, None).await;
    }
    let req = match parsed {
        Ok(r) => r,
        Err(e) => return error(ctx, &e, None, None).await,
    };
    let Some(model) = p.spec.model(&req.model) else {
        let contract = journal::RequestContract { model_served: false, ..journal::RequestContract::default() };
        ctx.attempt.contract = Some(Box::new(contract));
        return error(ctx, &ApiError::ModelNotFound { model: req.model.clone() }, None, None).await;
    };
    if model.embedding_dimensions.is_some() != (api == Api::Embeddings) {
        return error(ctx, &ApiError::WrongApi { model: req.model.clone(), api }, None, None).await;
    }
    let rejected_betas = match (d, parts.headers.get("anthropic-beta").and_then(|v| v.to_str().ok())) {
        (Dialect::Anthropic, Some(h)) => dialect::anthropic::rejected_betas(h, p.spec.anthropic_betas.as_deref()),
        _ => Vec::new(),
    };
    let missing_echo =
        d == Dialect::Deepseek && model.reasoning && p.spec.require_reasoning_echo && req.missing_reasoning_echo;
    let contract = journal::RequestContract {
        model_served: true,
        tools: req.tools.tools.iter().map(|t| t.name.clone()).collect(),
        rejected_betas: rejected_betas.clone(),
        missing_reasoning_echo: missing_echo,
        ..journal::RequestContract::default()
    };
    ctx.attempt.contract = Some(Box::new(contract));
    if !rejected_betas.is_empty() {
        return error(ctx, &dialect::anthropic::betas_refused(&rejected_betas), None, None).await;
    }
    if missing_echo {
        let message = dialect::openai::REASONING_ECHO_MISSING.to_string();
        return error(ctx, &ApiError::BadRequest { message, param: None }, None, None).await;
    }
    if let Some(n) = req.max_tokens
        && n > model.max_output
    {
        return error(ctx, &max_tokens_too_large(d, n, model), None, None).await;
    }
    let body_len = body.as_ref().map_or(0, Bytes::len);
    let (counted, req) = count_prompt(model, req, body_len).await;
    let prompt: u64 = counted.inputs.iter().sum();
    ctx.attempt.prompt_tokens = Some(prompt);
    let max_tokens = req.max_tokens.unwrap_or(0);
    let fits = prompt + max_tokens <= model.context_window;
    if let Some(c) = &mut ctx.attempt.contract {
        c.fits_window = fits;
    }
    if let Some(e) = &req.embedding {
        // Each input is held to the window on its own.
        if let Some(tokens) = counted.inputs.iter().zip(&e.inputs).map(|(n, (_, ids))| ids.unwrap_or(*n)).max()
            && tokens > model.context_window
        {
            let e = ApiError::EmbeddingInputTooLong { window: model.context_window, tokens };
            return error(ctx, &e, None, None).await;
        }
        if prompt > dialect::embeddings::MAX_REQUEST_TOKENS {
            let message = format!(
                "Requested {prompt} tokens, max {} tokens per request",
                dialect::embeddings::MAX_REQUEST_TOKENS
            );
            return error(ctx, &ApiError::BadRequest { message, param: None }, None, None).await;
        }
    } else if !fits {
        let e = ApiError::ContextOverflow { window: model.context_window, prompt, max_tokens };
        return error(ctx, &e, None, None).await;
    }
    if api == Api::CountTokens {
        let headers = dialect::standard_headers(d, &ctx.request_id, None, SystemTime::now());
        let body = dialect::json_bytes(&serde_json::json!({"input_tokens": prompt}));
        return stream::respond_bytes(&p, ctx.attempt, headers, body, ctx.pre_wait).await;
    }
    let quota = match p.quotas.admit(&key, prompt + max_tokens, Instant::now()) {
        Admission::Admitted(q) => q,
        Admission::Refused { which, retry_after, used, state } => {
            let (limit, requested) = match which {
                Exceeded::Requests => (state.requests.limit, 1),
                Exceeded::Tokens => (state.tokens.limit, prompt + max_tokens),
            };
            let e = ApiError::RateLimited { model: req.model.clone(), which, limit, used, requested, retry_after };
            let retry = retry_after.map(|r| (r, RetryAfterStyle::SecondsAndMs));
            return error(ctx, &e, retry, Some(&state)).await;
        }
    };

    // The reply depends on the seed and the request body only, so a retry gets the same answer.
    let body_key = DrawKey::new(p.seed).with(body.as_ref().map_or(0, |b| crate::rng::fnv1a(b)));
    let latency = &model.latency;
    if let (Some(e), Some(dims)) = (&req.embedding, model.embedding_dimensions) {
        let headers = dialect::standard_headers(d, &ctx.request_id, Some(&quota), SystemTime::now());
        let dims = e.dimensions.unwrap_or(dims).min(dims);
        let body = dialect::embeddings::render(e, &req.model, dims, DrawKey::new(p.seed), prompt);
        let wait = ctx.pre_wait + latency.ttft.0;
        return stream::respond_bytes(&p, ctx.attempt, headers, body, wait).await;
    }
    let mut completion = super::answer::build_completion(
        d,
        &req,
        &p.spec,
        model,
        prompt,
        body_key,
        completion_id,
        outcome_fault.as_ref(),
    );
    let prefixes = [(counted.prefix_key, counted.prefix), (counted.prefix_key ^ counted.last_key, prompt)];
    let hit = p.prompt_cache.longest_hit(&prefixes);
    let used = super::cache::cache_use(d, hit, counted.prefix, req.cache_marked);
    (completion.cached_tokens, completion.cache_write_tokens) = (used.read, used.written);
    let (names, valid) = (
        completion.tool_calls.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
        completion.tool_calls.iter().all(|t| serde_json::from_str::<serde::de::IgnoredAny>(&t.arguments).is_ok()),
    );
    if !names.is_empty() {
        ctx.attempt.tool_calls = Some(Box::new((names, valid)));
    }
    let jitter = latency.jitter.0.mul_f64(draw.with_str("jitter").unit());
    let keeps_alive = d == Dialect::Deepseek;
    let spec = StreamSpec {
        dialect: d,
        before_headers: if keeps_alive { Duration::ZERO } else { ctx.pre_wait },
        before_first_token: latency.ttft.0
            + jitter
            + first_token_wait
            + if keeps_alive { ctx.pre_wait } else { Duration::ZERO },
        per_token: Duration::from_secs_f64(1.0 / latency.tokens_per_second),
        keepalive: keeps_alive.then_some(p.spec.keepalive_interval.0),
        fault: outcome_fault,
    };
    let headers = dialect::standard_headers(d, &ctx.request_id, Some(&quota), SystemTime::now());
    ctx.attempt.completion_tokens = Some(completion.completion_tokens());
    if req.stream {
        stream::respond_stream(p.clone(), ctx.attempt, headers, completion, req.include_usage, spec).await
    } else {
        stream::respond_plain(p.clone(), ctx.attempt, headers, completion, spec).await
    }
}

/// What the rule book decided for one attempt, and what follows from it.
pub(crate) struct Decided {
    /// The attempt's draws (request ids, jitter), keyed on seed, provider and request index.
    pub(crate) draw: DrawKey,
    /// The answer's id (`chatcmpl-…`, `msg_…`), drawn once with the request id.
    pub(crate) completion_id: String,
    pub(crate) request_id: String,
    /// A `delay` fault's wait.
    pub(crate) pre_wait: Duration,
    /// A `slow_first_token` fault's wait.
    pub(crate) first_token_wait: Duration,
    pub(crate) should_retry: Option<bool>,
    pub(crate) outcome: Option<Fault>,
}

/// Asks the rule book about the attempt just begun, and journals the faults that fired.
pub(crate) fn decide_faults(p: &Arc<Provider>, attempt: &Attempt, input: &MatchInput<'_>, arrived: Instant) -> Decided {
    let decision = p.rules.decide(input, attempt.seq, arrived.saturating_duration_since(p.fleet_start()));
    let applied: Vec<AppliedFault> = [&decision.latency, &decision.outcome]
        .into_iter()
        .flatten()
        .map(|c| AppliedFault { rule: c.rule_id.clone(), kind: c.fault.kind().into() })
        .collect();
    if !applied.is_empty() {
        attempt.update(|r| r.faults = applied);
    }
    let draw = DrawKey::new(p.seed).with_str(&p.spec.name).with(attempt.seq);
    let (completion_id, request_id) = dialect::ids(p.spec.dialect, draw.with_str("ids").bits());
    let mut first_token_wait = Duration::ZERO;
    let mut pre_wait = Duration::ZERO;
    match decision.latency.as_ref().map(|c| &c.fault) {
        Some(Fault::Delay(spec)) => {
            pre_wait = spec.sample(draw.with_str("delay").unit(), draw.with_str("delay").normal())
        }
        Some(Fault::SlowFirstToken { delay }) => first_token_wait = delay.0,
        _ => {}
    }
    let should_retry = decision.outcome.as_ref().and_then(|c| c.should_retry);
    let outcome = decision.outcome.map(|c: Chosen| c.fault);
    Decided { draw, completion_id, request_id, pre_wait, first_token_wait, should_retry, outcome }
}

/// The request path for the journal; the API's own routes without an allocation.
pub(crate) fn route_path(path: &str) -> Cow<'static, str> {
    const ROUTES: [&str; 6] = [
        "/v1/chat/completions",
        "/v1/messages",
        "/chat/completions",
        "/v1/responses",
        "/v1/embeddings",
        "/v1/messages/count_tokens",
    ];
    match ROUTES.iter().find(|r| **r == path) {
        Some(r) => Cow::Borrowed(r),
        None => Cow::Owned(path.to_string()),
    }
}

pub(crate) async fn sleep_unless_shutdown(p: &Provider, d: Duration) {
    if !d.is_zero() {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = p.shutdown.cancelled() => {}
        }
    }
}

fn check_key(p: &Provider, key: &str) -> Result<(), ApiError> {
    if p.key_index(key).is_some() { Ok(()) } else { Err(ApiError::InvalidKey { masked: dialect::mask_key(key) }) }
}

fn max_tokens_too_large(d: Dialect, n: u64, m: &ModelSpec) -> ApiError {
    let message = match d {
        Dialect::Openai => format!(
            "max_tokens is too large: {n}. This model supports at most {} completion tokens, whereas you provided {n}.",
            m.max_output
        ),
        Dialect::Anthropic => {
            format!(
                "max_tokens: {n} > {}, which is the maximum allowed number of output tokens for {}",
                m.max_output, m.id
            )
        }
        Dialect::Deepseek => {
            format!("Invalid max_tokens value, the valid range of max_tokens is [1, {}]", m.max_output)
        }
    };
    ApiError::BadRequest { message, param: Some("max_tokens") }
}

/// Prompt tokens: one count per embeddings input, else one for the whole conversation; and the
/// cacheable prefix's size and identity.
#[derive(Default)]
struct Counted {
    inputs: Vec<u64>,
    prefix: u64,
    prefix_key: u64,
    /// Identity of the last message: with `prefix_key`, the whole prompt's.
    last_key: u64,
}

/// Counts the prompt (one count per embeddings input, else one for the conversation and its
/// tool definitions); large prompts (context-overflow drills) are counted on the blocking pool
/// so they do not hold an async worker. Hands the request back.
async fn count_prompt(model: &ModelSpec, req: ChatRequest, body_len: usize) -> (Counted, ChatRequest) {
    let t = model.tokenizer;
    let model_key = crate::rng::fnv1a(model.id.as_bytes());
    let count = move |req: ChatRequest| {
        if let Some(e) = &req.embedding {
            let inputs = e.inputs.iter().map(|(text, ids)| ids.unwrap_or_else(|| tokens::count(t, text))).collect();
            return (Counted { inputs, ..Counted::default() }, req);
        }
        let msgs: Vec<CountedMessage<'_>> = req
            .messages
            .iter()
            .map(|m| CountedMessage { role: &m.role, text: &m.text, name: m.name.as_deref() })
            .collect();
        let tools_text = req.tools.text();
        let tools = tokens::count(t, &tools_text);
        let n = tokens::count_chat(t, req.system.as_deref(), &msgs) + tools;
        // The cacheable head: system, tools and every message but the last.
        let head = &msgs[..msgs.len().saturating_sub(1)];
        let mut key = crate::rng::DrawKey::new(model_key).with_str(req.system.as_deref().unwrap_or_default());
        key = key.with_str(&tools_text);
        for m in head {
            key = key.with_str(m.role).with_str(m.text);
        }
        let last_key = msgs.last().map_or(0, |m| crate::rng::DrawKey::new(1).with_str(m.role).with_str(m.text).bits());
        let prefix = if head.is_empty() && req.system.is_none() && tools == 0 {
            0
        } else {
            tokens::count_chat(t, req.system.as_deref(), head) + tools
        };
        drop(msgs);
        (Counted { inputs: vec![n], prefix, prefix_key: key.bits(), last_key }, req)
    };
    if body_len < BLOCKING_COUNT_BYTES {
        return count(req);
    }
    // Only a panic inside the tokenizer fails the join; count nothing rather than fail the answer.
    tokio::task::spawn_blocking(move || count(req)).await.unwrap_or_default()
}

/// An answer a fault decides before the real checks run.
enum FaultAnswer {
    Error(ApiError, Option<(Duration, RetryAfterStyle)>),
    Conn(ConnFault),
}

fn answer_fault(ctx: &Ctx, fault: &Fault, req: Option<&ChatRequest>) -> Option<FaultAnswer> {
    let model = req.and_then(|r| ctx.p.spec.model(&r.model));
    Some(match fault {
        Fault::HttpError { status } => FaultAnswer::Error(ApiError::Status(*status), None),
        Fault::RateLimit { retry_after, retry_after_style } => {
            let quota = ctx.p.quotas.untouched();
            let e = ApiError::RateLimited {
                model: req.map(|r| r.model.clone()).unwrap_or_default(),
                which: Exceeded::Requests,
                limit: quota.requests.limit,
                used: quota.requests.limit,
                requested: 1,
                retry_after: retry_after.map(|r| r.0),
            };
            FaultAnswer::Error(e, retry_after.map(|r| (r.0, *retry_after_style)))
        }
        Fault::QuotaExhausted { variant } => FaultAnswer::Error(ApiError::QuotaExhausted(*variant), None),
        Fault::AuthInvalid => {
            FaultAnswer::Error(ApiError::InvalidKey { masked: dialect::mask_key("sk-rotated") }, None)
        }
        Fault::Overloaded => FaultAnswer::Error(ApiError::Overloaded, None),
        Fault::ContextOverflow => {
            let window = model.map_or(0, |m| m.context_window);
            let max_tokens = req.and_then(|r| r.max_tokens).unwrap_or(0);
            FaultAnswer::Error(ApiError::ContextOverflow { window, prompt: window + 1, max_tokens }, None)
        }
        Fault::Outage { mode } => match mode {
            OutageMode::Http503 => FaultAnswer::Error(ApiError::Unavailable, None),
            OutageMode::Refuse | OutageMode::Reset => FaultAnswer::Conn(ConnFault::Reset),
            OutageMode::Close => FaultAnswer::Conn(ConnFault::Close),
            OutageMode::Garbage => FaultAnswer::Conn(ConnFault::Garbage),
        },
        Fault::NoResponse => FaultAnswer::Conn(ConnFault::Hang),
        Fault::RetiredModel => {
            FaultAnswer::Error(ApiError::RetiredModel { model: req.map(|r| r.model.clone()).unwrap_or_default() }, None)
        }
        // The rest shape a successful answer instead.
        _ => return None,
    })
}

/// Answers an outcome fault that replaces the answer (an error status, a connection fault), or
/// hands the context back for a fault that shapes a successful answer instead. The mocks and
/// the fault proxy answer these the same way.
pub(crate) async fn answer_outcome_fault(
    mut ctx: Ctx,
    fault: &Fault,
    req: Option<&ChatRequest>,
) -> Result<Response, Ctx> {
    let Some(answer) = answer_fault(&ctx, fault, req) else { return Err(ctx) };
    if matches!(fault, Fault::RetiredModel) {
        let contract = journal::RequestContract { model_served: false, ..journal::RequestContract::default() };
        ctx.attempt.contract = Some(Box::new(contract));
    }
    Ok(match answer {
        FaultAnswer::Error(e, retry) => error(ctx, &e, retry, None).await,
        FaultAnswer::Conn(fault) => take_over(ctx, fault).await,
    })
}

/// Hands the connection to the listener for a connection-level fault, and never answers.
async fn take_over(ctx: Ctx, fault: ConnFault) -> Response {
    sleep_unless_shutdown(&ctx.p, ctx.pre_wait).await;
    let Ctx { p, attempt, request_id, should_retry, pre_wait: _, conn } = ctx;
    let attempt = match conn {
        Some(control) => match control.take_over(ConnAction { fault, attempt }) {
            // Stay pending: returning would let hyper write headers before the connection task
            // takes the socket. The task drops this future when it does.
            Ok(()) => return std::future::pending::<Response>().await,
            Err(action) => action.attempt,
        },
        None => attempt,
    };
    // Served without the raw listener (`Router::oneshot` in a test): a connection-level fault
    // cannot happen, and the answer says so rather than pretending.
    let ctx = Ctx { p, attempt, request_id, should_retry, pre_wait: Duration::ZERO, conn: None };
    let e = ApiError::BadRequest {
        message: format!("gatedrill: {fault:?} needs the provider's raw listener (serve it with mock::serve)"),
        param: None,
    };
    error(ctx, &e, None, None).await
}

/// Answers with an error in the dialect's words, with its retry headers, and journals it.
pub(crate) async fn error(
    ctx: Ctx,
    e: &ApiError,
    retry: Option<(Duration, RetryAfterStyle)>,
    quota: Option<&QuotaState>,
) -> Response {
    sleep_unless_shutdown(&ctx.p, ctx.pre_wait).await;
    let d = ctx.p.spec.dialect;
    let reply = dialect::render_error(d, e);
    let untouched = ctx.p.quotas.untouched();
    let now = SystemTime::now();
    let mut resp = Response::new(Body::from(reply.body.clone()));
    *resp.status_mut() = reply.status;
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (k, v) in dialect::standard_headers(d, &ctx.request_id, Some(quota.unwrap_or(&untouched)), now) {
        h.insert(k, v);
    }
    let mut retry_after_ms = None;
    if let Some((wait, style)) = retry {
        let secs = wait.as_millis().div_ceil(1000).to_string();
        let ms = wait.as_millis().to_string();
        let mut set = |name: &'static str, value: String| {
            if let Ok(v) = HeaderValue::from_str(&value) {
                h.insert(name, v);
            }
        };
        match style {
            RetryAfterStyle::SecondsAndMs => {
                set("retry-after", secs);
                set("retry-after-ms", ms);
            }
            RetryAfterStyle::Seconds => set("retry-after", secs),
            RetryAfterStyle::Ms => set("retry-after-ms", ms),
            RetryAfterStyle::HttpDate => {
                // Checked: a wait from a file or the control API is bounded, but never trusted.
                let secs = u64::try_from(wait.as_millis().div_ceil(1000)).unwrap_or(u64::MAX);
                let at = now.checked_add(Duration::from_secs(secs)).unwrap_or(now);
                set("retry-after", httpdate::fmt_http_date(at));
            }
            RetryAfterStyle::None => {}
        }
        if style != RetryAfterStyle::None {
            retry_after_ms = Some(wait.as_millis() as u64);
        }
    }
    if let Some(s) = ctx.should_retry {
        h.insert("x-should-retry", HeaderValue::from_static(if s { "true" } else { "false" }));
    }
    let bytes = reply.body.len() as u64;
    ctx.attempt.finish(|r| {
        r.status = Some(reply.status.as_u16());
        r.outcome = Outcome::HttpError;
        r.error = Some(reply.code);
        r.refusal = Some(e.into());
        r.retry_after_ms = retry_after_ms;
        r.bytes_sent = bytes;
    });
    resp
}

/// Any path under a provider that is not part of its API: the dialect's 404, journaled.
pub async fn no_route(State(p): State<Arc<Provider>>, req: Request) -> Response {
    let arrived = Instant::now();
    let mut rec = AttemptRecord::new(&p.spec.name);
    rec.path = Some(route_path(req.uri().path()));
    let attempt = Attempt::begin(&p, rec, arrived);
    let e = ApiError::NoRoute { method: req.method().to_string(), path: req.uri().path().to_string() };
    let ctx = Ctx {
        p: p.clone(),
        attempt,
        request_id: String::new(),
        should_retry: None,
        pre_wait: Duration::ZERO,
        conn: None,
    };
    error(ctx, &e, None, None).await
}

/// `GET /v1/models` (and DeepSeek's `/models`).
pub async fn models(State(p): State<Arc<Provider>>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], dialect::models_list(&p.spec)).into_response()
}

#[cfg(test)]
mod marker_tests {
    use super::marker;

    #[test]
    fn the_probe_marker_is_read_from_the_prompt_and_nothing_else_is() {
        let body = br#"{"messages":[{"role":"user","content":"hello [gatedrill probe chat-3-17]"}]}"#;
        assert_eq!(marker(body).as_deref(), Some("chat-3-17"));
        assert_eq!(marker(br#"{"content":"[gatedrill probe 12]"}"#).as_deref(), Some("12"));
        for none in
            [&br#"{"content":"no marker"}"#[..], b"[gatedrill probe ]", b"[gatedrill probe a b]", b"[gatedrill probe x"]
        {
            assert_eq!(marker(none), None, "{}", String::from_utf8_lossy(none));
        }
        let long = format!("[gatedrill probe {}]", "a".repeat(65));
        assert_eq!(marker(long.as_bytes()), None, "an id longer than 64 is no marker");
    }
}
