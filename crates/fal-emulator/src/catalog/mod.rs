//! What fal offers, read from the vendored OpenAPI documents: the endpoints
//! and their input and output shapes, the input rules they check, and the
//! price of each. Plain data, below every other layer.

pub(crate) mod endpoints;
pub(crate) mod prices;
pub(crate) mod validation;
