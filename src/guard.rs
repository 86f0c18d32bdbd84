//! What every server of gatedrill's shares (STYLE.md: "a long-running server of ours never panics
//! on input"): should a handler panic anyway, the panic is caught, the request is answered `500`
//! in the runbook's error shape, and a counter records it, so a drill whose mocks or reference
//! gateway misbehaved fails as a harness error instead of passing on evidence that was never sent.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use futures::FutureExt;

/// The error code a caught panic answers with.
pub const HARNESS_ERROR: &str = "GATEDRILL_HARNESS_ERROR";

/// Wraps every route of `router` so a panic becomes a `500` and a count in `panics`.
///
/// A plain tower layer rather than `axum::middleware::from_fn`: that one clones and boxes the
/// route's service on every request, a cost the mocks' plain answers showed in a profile.
pub fn catch_panics<S: Clone + Send + Sync + 'static>(router: Router<S>, panics: Arc<AtomicU64>) -> Router<S> {
    router.layer(CatchPanicLayer { panics })
}

#[derive(Clone)]
struct CatchPanicLayer {
    panics: Arc<AtomicU64>,
}

impl<I> tower::Layer<I> for CatchPanicLayer {
    type Service = CatchPanic<I>;
    fn layer(&self, inner: I) -> CatchPanic<I> {
        CatchPanic { inner, panics: self.panics.clone() }
    }
}

#[derive(Clone)]
struct CatchPanic<I> {
    inner: I,
    panics: Arc<AtomicU64>,
}

impl<I> tower::Service<Request> for CatchPanic<I>
where
    I: tower::Service<Request, Response = Response, Error = Infallible> + Send,
    I::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = futures::future::BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        // A panic while the handler's future is made counts the same as one while it runs.
        let made = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(req)));
        let panics = self.panics.clone();
        Box::pin(async move {
            let answer = match made {
                Ok(fut) => AssertUnwindSafe(fut).catch_unwind().await.map(|r| r.unwrap_or_else(|e| match e {})),
                Err(p) => Err(p),
            };
            Ok(answer.unwrap_or_else(|_| {
                panics.fetch_add(1, Ordering::Relaxed);
                let body = serde_json::json!({"error": {"code": HARNESS_ERROR, "message": "the handler failed; this answer is not a drill's fault injection"}});
                (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
            }))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_500_and_is_counted() {
        let panics = Arc::new(AtomicU64::new(0));
        let router: Router = Router::new().route(
            "/boom",
            axum::routing::get(|| async {
                if std::hint::black_box(true) {
                    panic!("handler bug");
                }
                "never"
            }),
        );
        let app = catch_panics(router, panics.clone());
        let resp = app.oneshot(Request::builder().uri("/boom").body(axum::body::Body::empty()).unwrap()).await.unwrap();
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(panics.load(Ordering::Relaxed), 1);
    }
}
