//! The event fal POSTs to a webhook URL, decoded leniently from the body.
//!
//! fal's shapes (<https://docs.fal.ai/model-apis/model-endpoints/webhooks>):
//! success `{request_id, gateway_request_id, status: "OK", payload}`; failure
//! `{…, status: "ERROR", error, payload: {detail: […]} | null}`; an output fal
//! could not serialize `{status: "OK", payload: null, payload_error}`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::WebhookError;
use crate::ValidationDetail;

/// One webhook delivery: which request, and how it ended.
///
/// `O` is the endpoint's output type ([`EditOutput`](crate::EditOutput), …),
/// or [`serde_json::Value`] to take any output as it is.
///
/// ```
/// use fal_kontext::webhook::{Event, Outcome};
///
/// let body = br#"{"request_id": "r1", "status": "OK", "payload": {"images": [], "seed": 7}}"#;
/// let event: Event<serde_json::Value> = Event::decode(body, None)?;
/// assert_eq!(event.request_id, "r1");
/// assert!(matches!(event.outcome, Outcome::Success(ref output) if output["seed"] == 7));
/// # Ok::<(), fal_kontext::webhook::WebhookError>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub struct Event<O> {
    /// The request's id, as `submit` returned it. The same event can arrive
    /// more than once: a receiver must be idempotent on it.
    pub request_id: String,
    /// The id of fal's last internal attempt, when it sent one.
    pub gateway_request_id: Option<String>,
    /// How the request ended.
    pub outcome: Outcome<O>,
}

/// How a request ended.
#[derive(Clone, Debug, PartialEq)]
#[non_exhaustive]
pub enum Outcome<O> {
    /// It succeeded with this output.
    Success(O),
    /// It failed.
    Failure {
        /// fal's `error`, such as `Invalid status code: 422`.
        error: String,
        /// fal's validation details (`payload.detail`), when it sent a list.
        details: Vec<ValidationDetail>,
        /// The `payload` as fal sent it, when it sent one.
        payload: Option<Value>,
    },
    /// It succeeded, but fal could not serialize its output.
    PayloadError {
        /// fal's `payload_error`, or why there is no payload.
        reason: String,
    },
}

/// The body as sent; every field optional, unknown ones ignored.
#[derive(serde::Deserialize)]
struct Wire {
    request_id: Option<String>,
    gateway_request_id: Option<String>,
    status: Option<String>,
    error: Option<String>,
    payload: Option<Value>,
    payload_error: Option<String>,
}

impl<O: DeserializeOwned> Event<O> {
    /// Decodes a delivery's body. This does **not** check that fal sent it:
    /// for deliveries from the network use
    /// [`Verifier::verify`](super::Verifier::verify), which calls this only
    /// once the signature holds. `header_request_id` (the verified
    /// `X-Fal-Webhook-Request-Id`) stands in for a body without `request_id`.
    ///
    /// ```
    /// use fal_kontext::webhook::{Event, Outcome};
    ///
    /// let body = br#"{"request_id": "r2", "status": "ERROR", "error": "Invalid status code: 422",
    ///     "payload": {"detail": [{"loc": ["body", "prompt"], "msg": "Field required", "type": "missing"}]}}"#;
    /// let event: Event<fal_kontext::EditOutput> = Event::decode(body, None)?;
    /// let Outcome::Failure { error, details, .. } = event.outcome else { unreachable!() };
    /// assert_eq!((error.as_str(), details[0].msg.as_str()), ("Invalid status code: 422", "Field required"));
    /// # Ok::<(), fal_kontext::webhook::WebhookError>(())
    /// ```
    pub fn decode(body: &[u8], header_request_id: Option<&str>) -> Result<Self, WebhookError> {
        let not_an_event = |request_id: Option<String>, message: String| WebhookError::NotAnEvent {
            request_id,
            message,
        };
        let wire: Wire = serde_json::from_slice(body)
            .map_err(|e| not_an_event(header_request_id.map(str::to_owned), e.to_string()))?;
        let request_id = wire
            .request_id
            .or_else(|| header_request_id.map(str::to_owned))
            .ok_or_else(|| not_an_event(None, "it has no request_id".into()))?;
        let outcome = match wire.status.as_deref() {
            None => {
                return Err(not_an_event(Some(request_id), "it has no status".into()));
            }
            Some(status) if status.eq_ignore_ascii_case("OK") => {
                match (wire.payload_error, wire.payload) {
                    (Some(reason), _) => Outcome::PayloadError { reason },
                    (None, None | Some(Value::Null)) => Outcome::PayloadError {
                        reason: "fal sent no payload".into(),
                    },
                    (None, Some(payload)) => match serde_json::from_value(payload) {
                        Ok(output) => Outcome::Success(output),
                        Err(e) => {
                            let message = format!("its payload is not this endpoint's output: {e}");
                            return Err(not_an_event(Some(request_id), message));
                        }
                    },
                }
            }
            // "ERROR", and any status fal may add: a failure, described by
            // fal's `error` when it gives one.
            Some(status) => Outcome::Failure {
                error: wire.error.unwrap_or_else(|| format!("status {status}")),
                details: details(wire.payload.as_ref()),
                payload: wire.payload.filter(|payload| !payload.is_null()),
            },
        };
        Ok(Event {
            request_id,
            gateway_request_id: wire.gateway_request_id,
            outcome,
        })
    }
}

/// The items of `payload.detail` that are objects (fal's pydantic list);
/// anything else there is kept only in the raw payload.
fn details(payload: Option<&Value>) -> Vec<ValidationDetail> {
    let items = payload
        .and_then(|payload| payload.get("detail"))
        .and_then(Value::as_array);
    items
        .into_iter()
        .flatten()
        .filter_map(|item| serde_json::from_value(item.clone()).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn decode(body: Value) -> Result<Event<crate::EditOutput>, WebhookError> {
        Event::decode(body.to_string().as_bytes(), None)
    }

    #[test]
    fn a_success_decodes_its_output_and_ignores_unknown_fields() {
        let event = decode(json!({
            "request_id": "r", "gateway_request_id": "g", "status": "OK", "new_field": 1,
            "payload": {"images": [{"url": "https://cdn/a.jpg", "extra": true}], "seed": 3,
                "has_nsfw_concepts": [false], "prompt": "p", "timings": {}},
        }))
        .unwrap();
        assert_eq!(event.gateway_request_id.as_deref(), Some("g"));
        let Outcome::Success(output) = event.outcome else {
            panic!("{:?}", event.outcome)
        };
        assert_eq!(output.images[0].url, "https://cdn/a.jpg");
    }

    #[test]
    fn a_failure_keeps_fal_s_error_and_details_whatever_the_payload() {
        let event = decode(json!({"request_id": "r", "status": "ERROR",
            "error": "Invalid status code: 422",
            "payload": {"detail": [{"loc": ["body", "seed"], "msg": "bad", "type": "int"}, "odd"]}}))
        .unwrap();
        let Outcome::Failure { error, details, .. } = event.outcome else {
            panic!()
        };
        assert_eq!(error, "Invalid status code: 422");
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].to_string(), "body.seed: bad");

        for payload in [json!(null), json!({"detail": "Request timed out"})] {
            let event = decode(json!({"request_id": "r", "status": "ERROR", "error": "e", "payload": payload.clone()})).unwrap();
            let Outcome::Failure {
                details,
                payload: kept,
                ..
            } = event.outcome
            else {
                panic!()
            };
            assert!(details.is_empty());
            assert_eq!(kept, Some(payload).filter(|p| !p.is_null()));
        }
        let event = decode(json!({"request_id": "r", "status": "CANCELLED"})).unwrap();
        assert!(
            matches!(event.outcome, Outcome::Failure { ref error, .. } if error == "status CANCELLED")
        );
    }

    #[test]
    fn a_payload_fal_could_not_serialize_is_its_own_outcome() {
        let event = decode(
            json!({"request_id": "r", "status": "OK", "payload": null, "payload_error": "too big"}),
        )
        .unwrap();
        assert_eq!(
            event.outcome,
            Outcome::PayloadError {
                reason: "too big".into()
            }
        );
        let event = decode(json!({"request_id": "r", "status": "OK"})).unwrap();
        assert!(matches!(event.outcome, Outcome::PayloadError { .. }));
    }

    #[test]
    fn bodies_that_are_not_events_say_why_with_the_request_id_when_known() {
        let error = Event::<Value>::decode(b"not json", Some("h")).unwrap_err();
        assert!(
            matches!(error, WebhookError::NotAnEvent { request_id: Some(ref id), .. } if id == "h")
        );
        let error = decode(json!({"status": "OK", "payload": {}})).unwrap_err();
        assert_eq!(
            error.to_string(),
            "not a fal webhook event: it has no request_id"
        );
        let error = decode(json!({"request_id": "r", "status": "OK", "payload": {"images": 3}}))
            .unwrap_err();
        assert!(
            error
                .to_string()
                .starts_with("not a fal webhook event (request r): its payload"),
            "{error}"
        );
        let error = decode(json!({"request_id": "r"})).unwrap_err();
        assert_eq!(error.http_status(), 400);
        // the verified header stands in for a body without the id
        let event = Event::<Value>::decode(br#"{"status":"OK","payload":{}}"#, Some("h")).unwrap();
        assert_eq!(event.request_id, "h");
    }
}
