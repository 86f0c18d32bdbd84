//! What every server of gatedrill's shares (STYLE.md: "a long-running server of ours never panics
//! on input"): should a handler panic anyway, the panic is caught, the request is answered `500`
//! in the runbook's error shape, and a counter records it, so a drill whose mocks or reference
//! gateway misbehaved fails as a harness error instead of passing on evidence that was never sent.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::IntoResponse;
use futures::FutureExt;

/// The error code a caught panic answers with.
pub const HARNESS_ERROR: &str = "GATEDRILL_HARNESS_ERROR";

/// Wraps every route of `router` so a panic becomes a `500` and a count in `panics`.
pub fn catch_panics<S: Clone + Send + Sync + 'static>(router: Router<S>, panics: Arc<AtomicU64>) -> Router<S> {
    router.layer(axum::middleware::from_fn(move |req: Request, next: Next| {
        let panics = panics.clone();
        async move {
            match AssertUnwindSafe(next.run(req)).catch_unwind().await {
                Ok(r) => r,
                Err(_) => {
                    panics.fetch_add(1, Ordering::Relaxed);
                    let body = serde_json::json!({"error": {"code": HARNESS_ERROR, "message": "the handler failed; this answer is not a drill's fault injection"}});
                    (StatusCode::INTERNAL_SERVER_ERROR, axum::Json(body)).into_response()
                }
            }
        }
    }))
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
