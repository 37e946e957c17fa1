//! What a change to one field is: the side it is on (what users send or
//! get back) and how it changed; the fields' diff makes them, the verdict
//! rules and the Markdown read them.

/// What users send (the input) or get back (the output).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    Input,
    Output,
}

/// One change to one field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added { required: bool, ty: String },
    Removed { ty: String },
    Retyped { from: String, to: String },
    NowRequired,
    NowOptional,
    ValueAdded(String),
    ValueRemoved(String),
}
