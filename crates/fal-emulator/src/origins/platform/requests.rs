//! fal's Platform APIs on requests (<https://api.fal.ai/v1/openapi.json>),
//! served on the rest origin under `/v1`: the request history
//! (`GET /v1/models/requests/by-endpoint`, API scope) and the deletion of a
//! request's payloads and output files (`DELETE
//! /v1/models/requests/{id}/payloads`, ADMIN scope: the emulator's admin
//! key). Errors have the Platform APIs' shape, `{"error": {"type",
//! "message", "request_id"}}`.

use std::cmp::Reverse;
use std::collections::BTreeSet;

use axum::Json;
use axum::extract::Query;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Date, Duration, Month, OffsetDateTime};

use crate::replies::platform_error;
use crate::state::Shared;
use crate::state::history::Entry;

/// The most endpoint ids one call may name.
const MOST_IDS: usize = 50;
/// fal's page size, by default and at most.
const DEFAULT_LIMIT: usize = 50;
const MOST_LIMIT: usize = 100;

fn invalid(message: &str) -> Response {
    platform_error(StatusCode::BAD_REQUEST, "validation_error", message)
}

/// The query's values of `name`, repeated or comma-separated, trimmed.
fn values<'a>(pairs: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    pairs
        .iter()
        .filter(|(key, _)| key == name)
        .flat_map(|(_, value)| value.split(','))
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .collect()
}

/// The one value of `name`, if given.
fn single<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .rev()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `start`/`end`: an ISO 8601 date-time, or a date (its midnight, UTC).
fn time_of(text: &str) -> Option<OffsetDateTime> {
    if let Ok(time) = OffsetDateTime::parse(text, &Rfc3339) {
        return Some(time);
    }
    let mut parts = text.splitn(3, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    if year.len() != 4 || month.len() != 2 || day.len() != 2 {
        return None;
    }
    let month = Month::try_from(month.parse::<u8>().ok()?).ok()?;
    let date = Date::from_calendar_date(year.parse().ok()?, month, day.parse().ok()?).ok()?;
    Some(date.midnight().assume_utc())
}

/// A cursor: the page number, base64-encoded (fal's look like `Mg==`).
fn cursor_of(page: usize) -> String {
    STANDARD.encode(page.to_string())
}

fn page_of(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(STANDARD.decode(cursor).ok()?).ok()?;
    text.parse().ok().filter(|page| *page >= 1)
}

/// `GET /v1/models/requests/by-endpoint`.
pub(crate) fn by_endpoint(shared: &Shared, uri: &Uri) -> Response {
    let pairs: Vec<(String, String)> = Query::try_from_uri(uri)
        .map(|Query(pairs)| pairs)
        .unwrap_or_default();
    let endpoints: BTreeSet<&str> = values(&pairs, "endpoint_id").into_iter().collect();
    if endpoints.is_empty() || endpoints.len() > MOST_IDS {
        return invalid(&format!(
            "endpoint_id: give 1 to {MOST_IDS} endpoint ids, repeated or comma-separated"
        ));
    }
    let limit = match single(&pairs, "limit").map(str::parse::<usize>) {
        None => DEFAULT_LIMIT,
        Some(Ok(limit)) if (1..=MOST_LIMIT).contains(&limit) => limit,
        Some(_) => return invalid(&format!("limit: must be an integer from 1 to {MOST_LIMIT}")),
    };
    let page = match single(&pairs, "cursor") {
        None => 1,
        Some(cursor) => match page_of(cursor) {
            Some(page) => page,
            None => return invalid("cursor: not a cursor this API returned"),
        },
    };
    let request_id = single(&pairs, "request_id");
    let now = OffsetDateTime::now_utc();
    let window = |name: &str, default: OffsetDateTime| match single(&pairs, name) {
        None => Some(default),
        Some(text) => time_of(text),
    };
    let look_back = if request_id.is_some() {
        Duration::days(90)
    } else {
        Duration::hours(24)
    };
    let (start, end) = match (window("start", now - look_back), window("end", now)) {
        (Some(start), Some(end)) => (start, end),
        (start, _) => {
            let name = if start.is_none() { "start" } else { "end" };
            return invalid(&format!(
                "{name}: must be an ISO 8601 date-time (2025-01-01T00:00:00Z) or a date (2025-01-01)"
            ));
        }
    };
    let status = single(&pairs, "status");
    if status.is_some_and(|s| !matches!(s, "success" | "error" | "user_error")) {
        return invalid("status: must be one of success, error, user_error");
    }
    let expand = values(&pairs, "expand");
    if let Some(other) = expand.iter().find(|value| **value != "payloads") {
        return invalid(&format!(
            "expand: unknown value `{other}`; allowed: payloads"
        ));
    }
    let sort_by = single(&pairs, "sort_by").unwrap_or("ended_at");
    if !matches!(sort_by, "ended_at" | "duration") {
        return invalid("sort_by: must be one of ended_at, duration");
    }

    let mut listed: Vec<Entry> = shared
        .history
        .all()
        .into_iter()
        .filter(|e| endpoints.contains(e.endpoint_id))
        .filter(|e| e.sent_at >= start && e.sent_at < end)
        .filter(|e| request_id.is_none_or(|id| e.request_id == id))
        .filter(|e| status.is_none_or(|s| e.status_class() == Some(s)))
        .collect();
    // Newest first (the direction is not documented); requests still
    // running, which have no end, before those that ended.
    match sort_by {
        "duration" => listed.sort_by(|a, b| b.duration.total_cmp_opt(a.duration)),
        _ => listed.sort_by_key(|e| Reverse((e.ended_at.is_none(), e.ended_at, e.sent_at))),
    }
    let skip = (page - 1).saturating_mul(limit);
    let items: Vec<Value> = listed
        .iter()
        .skip(skip)
        .take(limit)
        .map(|e| e.item(!expand.is_empty()))
        .collect();
    let more = listed.len() > skip.saturating_add(limit);
    let next = more.then(|| cursor_of(page + 1));
    Json(json!({"items": items, "next_cursor": next, "has_more": more})).into_response()
}

/// Orders `Option<f64>` durations, a missing one below any.
trait TotalCmpOpt {
    fn total_cmp_opt(&self, other: Self) -> std::cmp::Ordering;
}

impl TotalCmpOpt for Option<f64> {
    fn total_cmp_opt(&self, other: Self) -> std::cmp::Ordering {
        match (self, other) {
            (Some(a), Some(b)) => a.total_cmp(&b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        }
    }
}

/// `DELETE /v1/models/requests/{id}/payloads`: with the admin key only;
/// the same `Idempotency-Key` within 10 minutes gets the first answer.
pub(crate) fn delete_payloads(shared: &Shared, path: &str, headers: &HeaderMap) -> Response {
    let admin = format!("Key {}", shared.admin_key);
    let sent = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    if sent.map(str::trim) != Some(admin.as_str()) {
        return platform_error(
            StatusCode::FORBIDDEN,
            "authorization_error",
            "This operation requires an ADMIN key; the key given has only the API scope",
        );
    }
    let request_id = path
        .strip_prefix("/v1/models/requests/")
        .and_then(|rest| rest.strip_suffix("/payloads"))
        .unwrap_or_default();
    let key = headers
        .get("idempotency-key")
        .and_then(|value| value.to_str().ok())
        .filter(|key| !key.is_empty());
    if let Some(answer) = key.and_then(|key| shared.history.cached_deletion(key, request_id)) {
        return Json(answer).into_response();
    }
    let Some(files) = shared.history.delete_payloads(request_id) else {
        return platform_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("Request '{request_id}' not found"),
        );
    };
    let files_base = format!("{}/files/", shared.urls.cdn);
    let results: Vec<Value> = files
        .iter()
        .map(|link| {
            // a file already gone (the same output of another request,
            // deleted with it) is deleted all the same
            if let Some(key) = link.strip_prefix(&files_base) {
                shared.files.remove(key);
            }
            json!({"link": link, "exception": null})
        })
        .collect();
    let answer = json!({"cdn_delete_results": results});
    if let Some(key) = key {
        shared
            .history
            .remember_deletion(key.to_owned(), request_id, answer.clone());
    }
    Json(answer).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_base64_page_numbers() {
        assert_eq!(cursor_of(2), "Mg==");
        assert_eq!(page_of("Mg=="), Some(2));
        for bad in ["", "!!", "MA==", "eA=="] {
            assert_eq!(page_of(bad), None, "{bad}");
        }
    }

    #[test]
    fn window_bounds_are_date_times_or_dates() {
        let new_year = Date::from_calendar_date(2025, Month::January, 1)
            .unwrap()
            .midnight()
            .assume_utc();
        assert_eq!(time_of("2025-01-01"), Some(new_year));
        assert_eq!(
            time_of("2025-01-01T10:00:00+02:00"),
            Some(new_year + Duration::hours(8))
        );
        for bad in ["2025-1-1", "yesterday", "2025-02-30"] {
            assert_eq!(time_of(bad), None, "{bad}");
        }
    }
}
