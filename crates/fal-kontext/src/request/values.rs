//! The typed values of the input fields: each knows fal's spelling and turns
//! into the generated type that is sent.

use fal_kontext_api::types;

use crate::error::Error;

/// Declares a closed set of values spelled as strings on the wire.
macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident, field = $field:literal, sent_as = $generated:ty,
     { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($(#[$vmeta])* $variant),+
        }

        impl $name {
            /// Every value, in fal's order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The value as fal spells it.
            ///
            /// ```
            /// assert_eq!(fal_kontext::AspectRatio::Landscape16x9.as_str(), "16:9");
            /// assert_eq!(fal_kontext::SafetyTolerance::Level2.as_str(), "2");
            /// ```
            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text),+
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = Error;
            fn from_str(text: &str) -> Result<Self, Error> {
                Self::ALL.iter().copied().find(|v| v.as_str() == text).ok_or_else(|| Error::InvalidInput {
                    field: $field,
                    value: text.to_string(),
                    rule: format!(
                        "must be one of {}",
                        Self::ALL.iter().map(|v| format!("\"{v}\"")).collect::<Vec<_>>().join(", ")
                    ),
                })
            }
        }

        /// Read as fal spells it (a number is read as its digits: `5` as
        /// `"5"`); another spelling is refused naming the field.
        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                spelled(deserializer)
            }
        }

        impl From<$name> for $generated {
            fn from(value: $name) -> Self {
                // Both spell the values of the same OpenAPI enum; a test
                // converts every one.
                value.as_str().parse().expect("the generated enum has the same values")
            }
        }
    };
}

/// A value of one of the enums below, from a string or a number
/// (`"safety_tolerance": 5` is a common slip for `"5"`), through its `FromStr`.
fn spelled<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: std::str::FromStr<Err = Error>,
{
    use serde::Deserialize;
    let text = match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => text,
        serde_json::Value::Number(number) => number.to_string(),
        other => {
            return Err(serde::de::Error::custom(format!(
                "expected a string, got {other}"
            )));
        }
    };
    text.parse().map_err(serde::de::Error::custom)
}

string_enum! {
    /// The format of the generated images (`output_format`).
    OutputFormat, field = "output_format", sent_as = types::OutputFormat, {
        /// JPEG (fal's default).
        Jpeg = "jpeg",
        /// PNG.
        Png = "png",
    }
}

string_enum! {
    /// How permissive the safety filter is (`safety_tolerance`): 1 is the
    /// strictest, 6 the most permissive; fal's default is 2. Sent as the
    /// strings `"1"` … `"6"`.
    SafetyTolerance, field = "safety_tolerance", sent_as = types::SafetyTolerance, {
        /// `"1"`, the strictest.
        Level1 = "1",
        /// `"2"`, fal's default.
        Level2 = "2",
        /// `"3"`.
        Level3 = "3",
        /// `"4"`.
        Level4 = "4",
        /// `"5"`.
        Level5 = "5",
        /// `"6"`, the most permissive.
        Level6 = "6",
    }
}

impl TryFrom<u8> for SafetyTolerance {
    type Error = Error;
    /// ```
    /// use fal_kontext::SafetyTolerance;
    /// assert_eq!(SafetyTolerance::try_from(5).unwrap(), SafetyTolerance::Level5);
    /// assert!(SafetyTolerance::try_from(7).is_err());
    /// ```
    fn try_from(level: u8) -> Result<Self, Error> {
        level.to_string().parse()
    }
}

string_enum! {
    /// The aspect ratio of the generated images (`aspect_ratio`).
    AspectRatio, field = "aspect_ratio", sent_as = types::AspectRatio, {
        /// 21:9.
        Landscape21x9 = "21:9",
        /// 16:9.
        Landscape16x9 = "16:9",
        /// 4:3.
        Landscape4x3 = "4:3",
        /// 3:2.
        Landscape3x2 = "3:2",
        /// 1:1.
        Square1x1 = "1:1",
        /// 2:3.
        Portrait2x3 = "2:3",
        /// 3:4.
        Portrait3x4 = "3:4",
        /// 9:16.
        Portrait9x16 = "9:16",
        /// 9:21.
        Portrait9x21 = "9:21",
    }
}

string_enum! {
    /// How much the dev model trades quality for speed (`acceleration`).
    Acceleration, field = "acceleration", sent_as = types::Acceleration, {
        /// No acceleration (fal's default).
        None = "none",
        /// Some.
        Regular = "regular",
        /// The most.
        High = "high",
    }
}

string_enum! {
    /// The output size of the dev model (`resolution_mode`): the input's
    /// (fal's default), one chosen by the model, or a fixed aspect ratio.
    ResolutionMode, field = "resolution_mode", sent_as = types::ResolutionMode, {
        /// The model chooses.
        Auto = "auto",
        /// The input image's size (fal's default).
        MatchInput = "match_input",
        /// 1:1.
        Square1x1 = "1:1",
        /// 16:9.
        Landscape16x9 = "16:9",
        /// 21:9.
        Landscape21x9 = "21:9",
        /// 3:2.
        Landscape3x2 = "3:2",
        /// 2:3.
        Portrait2x3 = "2:3",
        /// 4:5.
        Portrait4x5 = "4:5",
        /// 5:4.
        Landscape5x4 = "5:4",
        /// 3:4.
        Portrait3x4 = "3:4",
        /// 4:3.
        Landscape4x3 = "4:3",
        /// 9:16.
        Portrait9x16 = "9:16",
        /// 9:21.
        Portrait9x21 = "9:21",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value converts into the generated enum and serializes as fal spells it.
    #[test]
    fn every_value_is_sent_as_fal_spells_it() {
        fn check<T: Copy + std::fmt::Display, G: From<T> + serde::Serialize>(all: &[T]) {
            for value in all {
                let sent = serde_json::to_value(G::from(*value)).unwrap();
                assert_eq!(sent, serde_json::Value::String(value.to_string()));
            }
        }
        check::<OutputFormat, types::OutputFormat>(OutputFormat::ALL);
        check::<SafetyTolerance, types::SafetyTolerance>(SafetyTolerance::ALL);
        check::<AspectRatio, types::AspectRatio>(AspectRatio::ALL);
        check::<Acceleration, types::Acceleration>(Acceleration::ALL);
        check::<ResolutionMode, types::ResolutionMode>(ResolutionMode::ALL);
    }

    #[test]
    fn values_are_read_as_fal_spells_them_or_refused_naming_the_field() {
        let read = |json: &str| serde_json::from_str::<SafetyTolerance>(json);
        assert_eq!(read(r#""5""#).unwrap(), SafetyTolerance::Level5);
        assert_eq!(read("5").unwrap(), SafetyTolerance::Level5);
        let error = read("7").unwrap_err().to_string();
        assert!(error.starts_with("invalid safety_tolerance `7`"), "{error}");
        let error = serde_json::from_str::<OutputFormat>("true")
            .unwrap_err()
            .to_string();
        assert!(error.contains("expected a string, got true"), "{error}");
    }

    #[test]
    fn unknown_values_name_the_field_and_the_allowed_ones() {
        let error = "webp".parse::<OutputFormat>().unwrap_err().to_string();
        assert_eq!(
            error,
            r#"invalid output_format `webp`: must be one of "jpeg", "png""#
        );
        let error = "7".parse::<SafetyTolerance>().unwrap_err().to_string();
        assert!(error.contains(r#""1", "2", "3", "4", "5", "6""#), "{error}");
    }
}
