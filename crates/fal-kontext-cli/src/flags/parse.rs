//! How a flag's value is read: numbers within their rule, the SDK's enums
//! with its own `FromStr` (so the CLI and the library accept the same values
//! and name them the same way), request ids, headers and LoRAs. A refused
//! value is one line naming the flag and the allowed values.

use std::ffi::OsStr;

use clap::builder::{PossibleValue, TypedValueParser};
use clap::error::ErrorKind;

use crate::job::LoraSpec;

/// The message of a refused value: the flag (or argument) and the rule, on
/// one line, as the SDK's own refusals are worded.
fn invalid(cmd: &clap::Command, arg: Option<&clap::Arg>, text: &str, rule: &str) -> clap::Error {
    let flag = arg.map_or_else(String::new, |arg| match arg.get_long() {
        Some(long) => format!(" for '--{long}'"),
        None => format!(" for '<{}>'", arg.get_id().as_str().to_uppercase()),
    });
    clap::Error::raw(
        ErrorKind::InvalidValue,
        format!("invalid value '{text}'{flag}: {rule}\n"),
    )
    .with_cmd(cmd)
}

/// A number flag: text that is not a `T` is refused with `rule`, the
/// allowed values. (Ranges the SDK checks are left to it, which words them
/// the same way.)
pub fn number<T: PartialOrd + 'static>(rule: &'static str) -> Number<T> {
    number_in(.., rule)
}

/// A number flag whose range the CLI checks itself.
pub fn number_in<T: PartialOrd + 'static>(
    range: impl std::ops::RangeBounds<T> + Send + Sync + 'static,
    rule: &'static str,
) -> Number<T> {
    Number {
        allowed: std::sync::Arc::new(move |n: &T| range.contains(n)),
        rule,
    }
}

/// A flag's value that `allowed` decides, refused with `rule`.
pub fn number_where<T>(
    allowed: impl Fn(&T) -> bool + Send + Sync + 'static,
    rule: &'static str,
) -> Number<T> {
    Number {
        allowed: std::sync::Arc::new(allowed),
        rule,
    }
}

/// A whole number of seconds, at least 1.
pub fn seconds() -> Number<u64> {
    number_in(1.., "must be a whole number of seconds, 1 or more")
}

/// An amount of money: a number, 0 or more (`inf` and `NaN` are none).
pub fn amount() -> Number<f64> {
    Number {
        allowed: std::sync::Arc::new(|n: &f64| n.is_finite() && *n >= 0.0),
        rule: "must be an amount, 0 or more, in the currency of fal's prices (such as 25 or 2.50)",
    }
}

/// See [`number`].
#[derive(Clone)]
pub struct Number<T> {
    allowed: std::sync::Arc<dyn Fn(&T) -> bool + Send + Sync>,
    rule: &'static str,
}

impl<T> TypedValueParser for Number<T>
where
    T: std::str::FromStr + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        match text.parse::<T>() {
            Ok(n) if (self.allowed)(&n) => Ok(n),
            _ => Err(invalid(cmd, arg, &text, self.rule)),
        }
    }
}

/// A request id as fal gives them (a UUID): letters, digits, `-` and `_`;
/// anything else would change the URL (or the file name) it is put in.
pub fn request_id(text: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    if !text.is_empty() && text.len() <= 128 && text.chars().all(allowed) {
        Ok(text.to_owned())
    } else {
        Err(
            "must be the request id `kontext submit` printed: 1 to 128 letters, digits, '-' or '_'"
                .into(),
        )
    }
}

/// A clap value parser for one of the SDK's enums: its `FromStr` decides, so
/// the message names the field and its allowed values; `--help` lists them.
pub fn choice<T>(all: &'static [T], name: fn(T) -> &'static str) -> SdkChoice<T>
where
    T: Copy + Send + Sync + 'static,
{
    SdkChoice { all, name }
}

/// See [`choice`].
#[derive(Clone)]
pub struct SdkChoice<T: 'static> {
    all: &'static [T],
    name: fn(T) -> &'static str,
}

impl<T> TypedValueParser for SdkChoice<T>
where
    T: std::str::FromStr<Err = fal_kontext::Error> + Copy + Clone + Send + Sync + 'static,
{
    type Value = T;

    fn parse_ref(
        &self,
        cmd: &clap::Command,
        arg: Option<&clap::Arg>,
        value: &OsStr,
    ) -> Result<T, clap::Error> {
        let text = value.to_string_lossy();
        text.parse().map_err(|error| {
            let rule = match error {
                fal_kontext::Error::InvalidInput { rule, .. } => rule,
                other => other.to_string(),
            };
            invalid(cmd, arg, &text, &rule)
        })
    }

    fn possible_values(&self) -> Option<Box<dyn Iterator<Item = PossibleValue> + '_>> {
        Some(Box::new(
            self.all
                .iter()
                .map(|value| PossibleValue::new((self.name)(*value))),
        ))
    }
}

/// `--header NAME:VALUE`, split at the first `:` (the SDK checks the name
/// and the value).
pub fn header(text: &str) -> Result<(String, String), String> {
    match text.split_once(':') {
        Some((name, value)) => Ok((name.trim().to_owned(), value.trim().to_owned())),
        None => Err("must be NAME:VALUE, e.g. x-fal-new-option:on".into()),
    }
}

/// `--lora PATH|URL[:SCALE]`; a local file must be there (the SDK checks
/// that it is a .safetensors file, and the scale).
pub fn lora(text: &str) -> Result<LoraSpec, String> {
    let spec: LoraSpec = text.parse()?;
    let url = spec.path.starts_with("http://") || spec.path.starts_with("https://");
    if !url && let Err(error) = std::fs::File::open(&spec.path) {
        return Err(format!(
            "{error}; must be a local .safetensors file or an http(s) URL, with :SCALE (0 to 4) or not"
        ));
    }
    Ok(spec)
}
