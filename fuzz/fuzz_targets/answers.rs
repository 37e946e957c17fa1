//! fal's answers as the SDK decodes them: statuses, outputs and errors from
//! any status code, headers and body. Decoding must never panic, and an
//! error's message must stay bounded whatever the body holds.

#![no_main]

use arbitrary::Arbitrary;
use fal_kontext::fuzzing::{decode_error, decode_output, decode_status};
use fal_kontext::{DevOutput, EditOutput, MultiOutput, TextToImageOutput};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Answer<'a> {
    status: u16,
    content_type: &'a [u8],
    retry_after: &'a [u8],
    body: &'a [u8],
}

fuzz_target!(|a: Answer<'_>| {
    let parts = (a.status, a.content_type, a.retry_after, a.body);
    let Some(status) = decode_status(parts.0, parts.1, parts.2, parts.3) else {
        return; // not an HTTP status code: no answer has it
    };
    if let Ok(status) = status {
        // what was decoded encodes again
        serde_json::to_string(&status).expect("a decoded status serializes");
    }
    let _ = decode_output::<EditOutput>(parts.0, parts.1, parts.2, parts.3);
    let _ = decode_output::<TextToImageOutput>(parts.0, parts.1, parts.2, parts.3);
    let _ = decode_output::<MultiOutput>(parts.0, parts.1, parts.2, parts.3);
    let _ = decode_output::<DevOutput>(parts.0, parts.1, parts.2, parts.3);
    let error = decode_error(parts.0, parts.1, parts.2, parts.3).expect("a valid status");
    let message = error.to_string();
    let _ = format!("{error:?}");
    // the body is quoted only in part (500 characters), whatever its size
    assert!(
        message.chars().count() <= 2 * a.body.len().min(600) + 200,
        "{} characters for a {}-byte body",
        message.chars().count(),
        a.body.len()
    );
});
