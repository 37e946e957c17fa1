//! Faults that rewrite the JSON of an answer the app gave: lean answers
//! ([`Fault::Lean`](crate::Fault::Lean)) and URLs on a foreign origin
//! ([`Fault::ForeignUrls`](crate::Fault::ForeignUrls)). A plain answer is
//! rewritten whole; a status stream, event by event.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::Response;
use futures::StreamExt;
use serde_json::{Map, Value, json};

use crate::replies::buffered;

/// How the JSON of an answer changes.
#[derive(Clone, Debug)]
pub(crate) enum Rewrite {
    /// A status keeps only `status`; an output only its images' `url`s.
    Lean,
    /// `status_url`, `response_url` and `cancel_url` under `queue` move to
    /// `foreign`.
    Origin { queue: String, foreign: String },
}

/// The answer with its JSON rewritten; a body that is not JSON is left alone.
pub(crate) async fn answer(response: Response, rewrite: Rewrite) -> Response {
    let is_stream = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    if is_stream {
        // Each frame of the emulator's streams is one event (or a comment).
        let (parts, body) = response.into_parts();
        let frames = body
            .into_data_stream()
            .map(move |frame| frame.map(|bytes| event(&bytes, &rewrite)));
        return Response::from_parts(parts, Body::from_stream(frames));
    }
    let (mut parts, bytes) = buffered(response).await;
    let body = match serde_json::from_slice::<Value>(&bytes) {
        Ok(mut value) => {
            rewrite.apply(&mut value);
            parts.headers.remove(header::CONTENT_LENGTH);
            Bytes::from(value.to_string())
        }
        Err(_) => bytes,
    };
    Response::from_parts(parts, Body::from(body))
}

/// One SSE frame: a `data:` event rewritten, anything else as it came.
fn event(frame: &Bytes, rewrite: &Rewrite) -> Bytes {
    let text = String::from_utf8_lossy(frame);
    let Some(data) = text.strip_prefix("data: ") else {
        return frame.clone();
    };
    match serde_json::from_str::<Value>(data.trim_end()) {
        Ok(mut value) => {
            rewrite.apply(&mut value);
            Bytes::from(format!("data: {value}\n\n"))
        }
        Err(_) => frame.clone(),
    }
}

impl Rewrite {
    fn apply(&self, value: &mut Value) {
        let Value::Object(object) = value else {
            return;
        };
        match self {
            Rewrite::Lean => lean(object),
            Rewrite::Origin { queue, foreign } => {
                for name in ["status_url", "response_url", "cancel_url"] {
                    if let Some(Value::String(url)) = object.get_mut(name)
                        && let Some(rest) = url.strip_prefix(queue.as_str())
                    {
                        *url = format!("{foreign}{rest}");
                    }
                }
            }
        }
    }
}

/// An output keeps its images' URLs; a status object, its status; anything
/// else (an error's `detail`) stays as it is.
fn lean(object: &mut Map<String, Value>) {
    if let Some(Value::Array(images)) = object.get("images") {
        let urls: Vec<Value> = images
            .iter()
            .map(|image| json!({"url": image["url"]}))
            .collect();
        *object = Map::from_iter([("images".to_owned(), Value::Array(urls))]);
    } else if let Some(status) = object.get("status").cloned() {
        *object = Map::from_iter([("status".to_owned(), status)]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lean_keeps_the_status_alone_and_the_image_urls() {
        let mut status = json!({"status": "IN_QUEUE", "request_id": "r", "status_url": "u", "queue_position": 0, "logs": null});
        Rewrite::Lean.apply(&mut status);
        assert_eq!(status, json!({"status": "IN_QUEUE"}));
        let mut output =
            json!({"images": [{"url": "a", "width": 1}, {"url": "b"}], "seed": 1, "prompt": "p"});
        Rewrite::Lean.apply(&mut output);
        assert_eq!(output, json!({"images": [{"url": "a"}, {"url": "b"}]}));
        let mut error = json!({"detail": "Request is still in progress"});
        Rewrite::Lean.apply(&mut error);
        assert_eq!(error, json!({"detail": "Request is still in progress"}));
    }

    #[test]
    fn origin_moves_only_the_three_urls_under_the_queue() {
        let mut answer = json!({
            "status_url": "http://q/app/requests/1/status",
            "response_url": "http://q/app/requests/1",
            "cancel_url": "http://elsewhere/x",
            "image_url": "http://q/keep",
        });
        Rewrite::Origin {
            queue: "http://q".into(),
            foreign: "http://f".into(),
        }
        .apply(&mut answer);
        assert_eq!(
            answer,
            json!({
                "status_url": "http://f/app/requests/1/status",
                "response_url": "http://f/app/requests/1",
                "cancel_url": "http://elsewhere/x",
                "image_url": "http://q/keep",
            })
        );
    }

    #[test]
    fn stream_frames_other_than_data_pass_through() {
        let keep_alive = Bytes::from_static(b": keep-alive\n\n");
        assert_eq!(event(&keep_alive, &Rewrite::Lean), keep_alive);
        let data =
            Bytes::from_static(b"data: {\"status\":\"IN_PROGRESS\",\"request_id\":\"r\"}\n\n");
        assert_eq!(
            event(&data, &Rewrite::Lean),
            Bytes::from_static(b"data: {\"status\":\"IN_PROGRESS\"}\n\n")
        );
    }
}
