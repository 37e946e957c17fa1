//! fal's answers as the SDK decodes them: statuses, outputs and errors from
//! any status code, headers and body. Decoding must never panic, nor may
//! printing the error it makes.

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
    let Answer {
        status: code,
        content_type,
        retry_after,
        body,
    } = a;
    let Some(status) = decode_status(code, content_type, retry_after, body) else {
        return; // not an HTTP status code: no answer has it
    };
    if let Ok(status) = status {
        // what was decoded encodes again
        serde_json::to_string(&status).expect("a decoded status serializes");
    }
    let _ = decode_output::<EditOutput>(code, content_type, retry_after, body);
    let _ = decode_output::<TextToImageOutput>(code, content_type, retry_after, body);
    let _ = decode_output::<MultiOutput>(code, content_type, retry_after, body);
    let _ = decode_output::<DevOutput>(code, content_type, retry_after, body);
    let error = decode_error(code, content_type, retry_after, body).expect("a valid status");
    // an error prints without a panic, both ways
    let _ = (error.to_string(), format!("{error:?}"));
});
