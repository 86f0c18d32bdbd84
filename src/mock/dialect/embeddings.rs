//! OpenAI embeddings, `POST /v1/embeddings` (../shared/WIRE.md "Agent
//! traffic"): `input` as a string, an array of strings, or token arrays; `dimensions`;
//! `encoding_format` `float` or `base64` (little-endian f32, which the official SDK asks for by
//! default and decodes itself). Vectors are deterministic (seed, input text) and unit length, so
//! a retry or a failover to a mock of the same seed returns the same vector.

use base64::Engine as _;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{ApiError, ChatRequest, Message};
use crate::rng::DrawKey;

/// Most inputs one request may carry (the API's documented limit).
pub const MAX_INPUTS: usize = 2048;
/// Most tokens one request may carry, over all its inputs (the API's documented limit).
pub const MAX_REQUEST_TOKENS: u64 = 300_000;

/// What to embed and how to answer.
#[derive(Debug, Default)]
pub struct EmbeddingRequest {
    /// Each input as text, and its token count when it came as token ids.
    pub inputs: Vec<(String, Option<u64>)>,
    pub dimensions: Option<u64>,
    pub base64: bool,
}

#[derive(Deserialize)]
struct Req {
    model: Option<String>,
    input: Option<Value>,
    dimensions: Option<u64>,
    encoding_format: Option<String>,
}

fn invalid_input() -> ApiError {
    ApiError::BadRequest {
        message:
            "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference."
                .into(),
        param: None,
    }
}

fn token_input(v: &[Value]) -> Option<(String, Option<u64>)> {
    let ids: Option<Vec<u64>> = v.iter().map(Value::as_u64).collect();
    let ids = ids?;
    let text = ids.iter().map(u64::to_string).collect::<Vec<_>>().join(" ");
    Some((text, Some(ids.len() as u64)))
}

pub fn parse_request(body: &[u8]) -> Result<ChatRequest, ApiError> {
    let r: Req = serde_json::from_slice(body).map_err(|e| ApiError::BadRequest {
        message: if e.is_syntax() || e.is_eof() {
            "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON.)".into()
        } else {
            format!("Invalid request body: {e}")
        },
        param: None,
    })?;
    let model = r
        .model
        .filter(|m| !m.is_empty())
        .ok_or(ApiError::BadRequest { message: "you must provide a model parameter".into(), param: None })?;
    let inputs: Vec<(String, Option<u64>)> = match r.input {
        Some(Value::String(s)) if !s.is_empty() => vec![(s, None)],
        Some(Value::Array(a)) if !a.is_empty() && a.len() <= MAX_INPUTS => {
            if a.iter().all(Value::is_u64) {
                vec![token_input(&a).ok_or_else(invalid_input)?]
            } else {
                a.iter()
                    .map(|v| match v {
                        Value::String(s) if !s.is_empty() => Ok((s.clone(), None)),
                        Value::Array(ids) if !ids.is_empty() => token_input(ids).ok_or_else(invalid_input),
                        _ => Err(invalid_input()),
                    })
                    .collect::<Result<_, _>>()?
            }
        }
        _ => return Err(invalid_input()),
    };
    let base64 = match r.encoding_format.as_deref() {
        None | Some("float") => false,
        Some("base64") => true,
        Some(other) => {
            return Err(ApiError::BadRequest {
                message: format!("Invalid value: '{other}'. Supported values are: 'float' and 'base64'."),
                param: Some("encoding_format"),
            });
        }
    };
    if r.dimensions == Some(0) {
        return Err(ApiError::BadRequest {
            message: "Invalid 'dimensions': integer below minimum value. Expected a value >= 1, but got 0 instead."
                .into(),
            param: Some("dimensions"),
        });
    }
    let messages = inputs.iter().map(|(t, _)| Message { role: "user".into(), text: t.clone(), name: None }).collect();
    Ok(ChatRequest {
        model,
        messages,
        embedding: Some(EmbeddingRequest { inputs, dimensions: r.dimensions, base64 }),
        ..ChatRequest::default()
    })
}

/// A unit-length vector of `dims` components for `text`.
pub fn vector(key: DrawKey, text: &str, dims: u64) -> Vec<f32> {
    let k = key.with(crate::rng::fnv1a(text.as_bytes()));
    let raw: Vec<f64> = (0..dims).map(|i| k.with(i).normal()).collect();
    let norm = raw.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    raw.into_iter().map(|x| (x / norm) as f32).collect()
}

/// The list answer; `tokens` is the prompt token count of the whole request. Written straight
/// into one buffer: a request of 2048 inputs of 3072 components is millions of numbers, which as
/// `serde_json::Value`s would take several times the memory.
pub fn render(req: &EmbeddingRequest, model: &str, dims: u64, key: DrawKey, tokens: u64) -> Bytes {
    let mut out = Vec::with_capacity(64 + req.inputs.len() * dims as usize * if req.base64 { 6 } else { 12 });
    out.extend_from_slice(br#"{"object":"list","data":["#);
    for (i, (text, _)) in req.inputs.iter().enumerate() {
        let v = vector(key, text, dims);
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(format!(r#"{{"object":"embedding","index":{i},"embedding":"#).as_bytes());
        if req.base64 {
            let bytes: Vec<u8> = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            out.push(b'"');
            out.extend_from_slice(base64::engine::general_purpose::STANDARD.encode(bytes).as_bytes());
            out.push(b'"');
        } else {
            // Writing into a Vec cannot fail.
            let _ = serde_json::to_writer(&mut out, &v);
        }
        out.push(b'}');
    }
    let tail = json!({"model": model, "usage": {"prompt_tokens": tokens, "total_tokens": tokens}}).to_string();
    out.extend_from_slice(b"],");
    // The tail object's members, without its opening brace.
    out.extend_from_slice(&tail.as_bytes()[1..]);
    Bytes::from(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vectors_are_unit_length_and_deterministic() {
        let a = vector(DrawKey::new(1), "hello", 256);
        assert_eq!(a, vector(DrawKey::new(1), "hello", 256));
        assert_ne!(a, vector(DrawKey::new(1), "hullo", 256));
        let norm: f32 = a.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }

    #[test]
    fn inputs_of_each_form_parse() {
        let r = parse_request(br#"{"model":"m","input":["a",[1,2,3]],"encoding_format":"base64"}"#).unwrap();
        let e = r.embedding.unwrap();
        assert_eq!(e.inputs[1].1, Some(3));
        assert!(e.base64);
        assert!(parse_request(br#"{"model":"m","input":""}"#).is_err());
        assert!(parse_request(br#"{"model":"m","input":"x","encoding_format":"hex"}"#).is_err());
    }
}
