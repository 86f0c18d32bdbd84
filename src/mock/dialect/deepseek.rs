//! DeepSeek's error table (api-docs.deepseek.com/quick_start/error_codes; ../shared/WIRE.md):
//! OpenAI's envelope with DeepSeek's words, 402 Insufficient Balance, a context overflow
//! without `context_length_exceeded`, 503 Server Overloaded. Everything else DeepSeek says is
//! rendered by `openai`, which it imitates.

use super::{ApiError, ErrorReply};
use crate::mock::faults::QuotaVariant;

pub fn render_error(
    e: &ApiError,
    reply: impl Fn(u16, &str, &str, Option<&str>, Option<&str>) -> ErrorReply,
) -> ErrorReply {
    let irq = Some("invalid_request_error");
    match e {
        ApiError::BadRequest { message, .. } => reply(400, message, "invalid_request_error", None, irq),
        ApiError::MissingAuth | ApiError::InvalidKey { .. } => {
            let masked = match e {
                ApiError::InvalidKey { masked } => masked.as_str(),
                _ => "",
            };
            reply(
                401,
                &format!("Authentication Fails, Your api key: {masked} is invalid"),
                "authentication_error",
                None,
                irq,
            )
        }
        ApiError::ModelNotFound { .. } => reply(400, "Model Not Exist", "invalid_request_error", None, irq),
        ApiError::NoRoute { .. } => reply(404, "Not Found", "invalid_request_error", None, irq),
        ApiError::TooLarge { .. } => reply(413, "Request Entity Too Large", "invalid_request_error", None, irq),
        ApiError::ContextOverflow { window, prompt, max_tokens } => reply(
            400,
            &format!(
                "This model's maximum context length is {window} tokens. However, you requested {} tokens ({prompt} in the messages, {max_tokens} in the completion). Please reduce the length of the messages or completion.",
                prompt + max_tokens
            ),
            "invalid_request_error",
            None,
            irq,
        ),
        ApiError::RateLimited { .. } => reply(429, "Rate Limit Reached", "rate_limit_error", None, irq),
        ApiError::QuotaExhausted(QuotaVariant::Billing | QuotaVariant::SpendLimit) => {
            reply(402, "Insufficient Balance", "unknown_error", None, irq)
        }
        ApiError::Overloaded | ApiError::Unavailable => reply(503, "Server Overloaded", "server_error", None, None),
        ApiError::Status(s) => {
            let message = match s {
                400 => "Invalid Format",
                401 => "Authentication Fails",
                402 => "Insufficient Balance",
                422 => "Invalid Parameters",
                429 => "Rate Limit Reached",
                503 => "Server Overloaded",
                s if *s >= 500 => "Server Error",
                _ => "Request Error",
            };
            let kind = if *s >= 500 { "server_error" } else { "invalid_request_error" };
            reply(*s, message, kind, None, irq)
        }
        ApiError::StreamServerError => reply(500, "Server Error", "server_error", None, None),
        ApiError::WrongApi { .. } | ApiError::RetiredModel { .. } => {
            reply(400, "Model Not Exist", "invalid_request_error", None, irq)
        }
        ApiError::EmbeddingInputTooLong { .. } => reply(400, "Invalid Format", "invalid_request_error", None, irq),
    }
}
