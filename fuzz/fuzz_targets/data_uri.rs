//! `data:` URIs in outputs (`sync_mode`): any text decodes or is refused
//! without a panic, and bytes encoded as fal encodes them come back whole.

#![no_main]

use arbitrary::Arbitrary;
use base64::Engine;
use fal_kontext::fuzzing::decode_data_uri;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input<'a> {
    text: &'a str,
    bytes: &'a [u8],
    content_type: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    if let Err(error) = decode_data_uri(input.text) {
        assert!(
            matches!(error, fal_kontext::Error::InvalidInput { .. }),
            "{error:?}"
        );
    }
    let content_type: String = input.content_type.chars().filter(|c| *c != ',').collect();
    let encoded = format!(
        "{content_type};base64,{}",
        base64::engine::general_purpose::STANDARD.encode(input.bytes)
    );
    assert_eq!(decode_data_uri(&encoded).unwrap(), input.bytes);
});
