//! The words queries are made of, typed: a time range (one vocabulary for the runs list
//! and analytics), a runs order, a list of statuses. Each is read from and written to
//! the text a URL holds, as before; a query's optional fields go through `text`, so a
//! blank field means "not given", as a browser's empty form field does.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

use crate::{RunSort, RunStatus};

/// An enum of keywords, each written as its text, and a `FromStr` whose error names
/// the field and the choices.
macro_rules! keyword_enum {
    ($(#[$doc:meta])* $name:ident, $what:literal { $($variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        // The same names as the renames: schema generators do not read a rename
        // passed through this macro.
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $(#[serde(rename = $text)] $variant),+
        }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    other => Err(format!(
                        concat!("unknown ", $what, " `{}` (expected {})"),
                        other,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use keyword_enum;

/// How far back from now a list or a chart looks. Written out here rather than by
/// `keyword_enum`, so that schema generators read its words (`24h` is no name). The
/// runs list once said `week` for `7d`; it still reads so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Range {
    #[serde(rename = "today")]
    Today,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d", alias = "week")]
    Week,
    #[serde(rename = "30d")]
    Month,
    #[serde(rename = "all")]
    All,
}

impl Range {
    pub const ALL: &'static [Range] = &[Range::Today, Range::Day, Range::Week, Range::Month, Range::All];

    pub fn as_str(self) -> &'static str {
        match self {
            Range::Today => "today",
            Range::Day => "24h",
            Range::Week => "7d",
            Range::Month => "30d",
            Range::All => "all",
        }
    }

    /// Where the window starts at `now` (`today`: midnight UTC); `all` has no start.
    pub fn since(self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let back = |hours| now.checked_sub_signed(chrono::Duration::hours(hours));
        match self {
            Range::Today => now.date_naive().and_hms_opt(0, 0, 0).map(|t| t.and_utc()),
            Range::Day => back(24),
            Range::Week => back(7 * 24),
            Range::Month => back(30 * 24),
            Range::All => None,
        }
    }

    /// For people: `Last 7 days`.
    pub fn label(self) -> &'static str {
        match self {
            Range::Today => "Today",
            Range::Day => "Last 24 hours",
            Range::Week => "Last 7 days",
            Range::Month => "Last 30 days",
            Range::All => "All time",
        }
    }
}

/// The runs list's order: a column, descending with `-` before it (`-started_at`, the
/// default: newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunOrder {
    pub by: RunSort,
    pub descending: bool,
}

impl Default for RunOrder {
    fn default() -> Self {
        RunOrder { by: RunSort::StartedAt, descending: true }
    }
}

impl FromStr for RunOrder {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.strip_prefix('-') {
            Some(column) => Ok(RunOrder { by: column.parse()?, descending: true }),
            None => Ok(RunOrder { by: s.parse()?, descending: false }),
        }
    }
}

impl fmt::Display for RunOrder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", if self.descending { "-" } else { "" }, self.by.as_str())
    }
}

impl FromStr for Range {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "week" => Ok(Range::Week),
            _ => Range::ALL
                .iter()
                .copied()
                .find(|range| range.as_str() == s)
                .ok_or_else(|| format!("unknown range `{s}` (expected today, 24h, 7d, 30d or all)")),
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Run statuses, written comma separated (`pending,running`); none means all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Statuses(pub Vec<RunStatus>);

impl FromStr for Statuses {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        s.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::parse).collect::<Result<_, _>>().map(Statuses)
    }
}

impl fmt::Display for Statuses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let words: Vec<&str> = self.0.iter().map(|status| status.as_str()).collect();
        f.write_str(&words.join(","))
    }
}

/// Serde for an optional query field held as text: blank is `None`, else `FromStr`,
/// whose error (naming the field and its choices) is the answer's message.
pub mod text {
    use super::*;

    pub fn serialize<T: fmt::Display, S: Serializer>(value: &Option<T>, serializer: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(value) => serializer.collect_str(value),
            None => serializer.serialize_none(),
        }
    }

    pub fn deserialize<'de, T, D>(deserializer: D) -> Result<Option<T>, D::Error>
    where
        T: FromStr<Err = String>,
        D: Deserializer<'de>,
    {
        let text = Option::<String>::deserialize(deserializer)?;
        match text.as_deref().map(str::trim) {
            None | Some("") => Ok(None),
            Some(text) => text.parse().map(Some).map_err(serde::de::Error::custom),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_read_back_as_written() {
        for range in Range::ALL {
            assert_eq!(range.as_str().parse::<Range>(), Ok(*range));
        }
        assert_eq!("week".parse::<Range>(), Ok(Range::Week));
        assert!("1y".parse::<Range>().unwrap_err().contains("unknown range `1y`"));
        let order: RunOrder = "-total_cost_usd".parse().unwrap();
        assert_eq!(
            (order.by, order.descending, order.to_string()),
            (RunSort::TotalCostUsd, true, "-total_cost_usd".into())
        );
        let statuses: Statuses = " failed, ,running".parse().unwrap();
        assert_eq!((statuses.0.len(), statuses.to_string()), (2, "failed,running".to_owned()));
        assert!("done".parse::<Statuses>().is_err());
    }
}
