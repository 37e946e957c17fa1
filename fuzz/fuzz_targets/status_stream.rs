//! The status stream as the SDK reads it: bytes in pieces, SSE events, then
//! statuses. It must never panic, and the statuses must not depend on where
//! the network happened to split the body.

#![no_main]

use arbitrary::Arbitrary;
use fal_kontext::fuzzing::stream_statuses;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Body<'a> {
    /// Where the body is split: each cut is a length, taken in turn.
    cuts: Vec<u8>,
    /// The body (the rest of the input, so that a raw SSE seed is mostly body).
    body: &'a [u8],
}

fuzz_target!(|input: Body<'_>| {
    let mut pieces = Vec::new();
    let mut rest = input.body;
    for cut in &input.cuts {
        let (piece, after) = rest.split_at(usize::from(*cut).min(rest.len()));
        pieces.push(piece.to_vec());
        rest = after;
    }
    pieces.push(rest.to_vec());
    let split = stream_statuses(pieces);
    let whole = stream_statuses(vec![input.body.to_vec()]);
    assert_eq!(split, whole, "the same body, split differently");
});
