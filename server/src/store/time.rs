//! `Ts`: a UTC instant stored the way the original system stores it. On SQLite that is
//! SQLAlchemy's text (`2026-02-03 12:34:56.123456`, always six fraction digits, so that
//! text order is time order and keyset comparisons are exact); on PostgreSQL a
//! `TIMESTAMP` (naive UTC).

use chrono::{DateTime, NaiveDateTime, SubsecRound, TimeDelta, Utc};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentValue, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type};

const SQLITE_FORMAT: &str = "%Y-%m-%d %H:%M:%S%.6f";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ts(pub NaiveDateTime);

impl Ts {
    /// Now, at the microsecond precision both databases keep, so a value read back
    /// equals the value written.
    pub fn now() -> Ts {
        Ts(Utc::now().naive_utc().trunc_subsecs(6))
    }

    pub fn utc(self) -> DateTime<Utc> {
        self.0.and_utc()
    }

    pub fn seconds_since(self, earlier: Ts) -> f64 {
        (self.0 - earlier.0).as_seconds_f64()
    }

    /// `seconds` later (earlier when negative); at the calendar's end rather than past
    /// it, which would panic.
    pub fn plus_seconds(self, seconds: i64) -> Ts {
        let (delta, end) = match seconds < 0 {
            true => (TimeDelta::MIN, NaiveDateTime::MIN),
            false => (TimeDelta::MAX, NaiveDateTime::MAX),
        };
        let delta = TimeDelta::try_seconds(seconds).unwrap_or(delta);
        Ts(self.0.checked_add_signed(delta).unwrap_or(end))
    }

    fn parse(text: &str) -> Result<Ts, BoxDynError> {
        if let Ok(naive) = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f")
            .or_else(|_| NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f"))
        {
            return Ok(Ts(naive));
        }
        let aware = DateTime::parse_from_rfc3339(text)
            .or_else(|_| DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
            .map_err(|_| format!("unreadable timestamp `{text}`"))?;
        Ok(Ts(aware.naive_utc()))
    }
}

impl From<DateTime<Utc>> for Ts {
    fn from(at: DateTime<Utc>) -> Ts {
        Ts(at.naive_utc().trunc_subsecs(6))
    }
}

impl Type<Sqlite> for Ts {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }
    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty) || <NaiveDateTime as Type<Sqlite>>::compatible(ty)
    }
}

impl<'q> Encode<'q, Sqlite> for Ts {
    fn encode_by_ref(&self, buf: &mut Vec<SqliteArgumentValue<'q>>) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.format(SQLITE_FORMAT).to_string(), buf)
    }
}

/// From the text a database puts in JSON (`json_object`, `json_build_object`).
impl<'de> serde::Deserialize<'de> for Ts {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Ts, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Ts::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl<'r> Decode<'r, Sqlite> for Ts {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ts::parse(<&str as Decode<Sqlite>>::decode(value)?)
    }
}

impl Type<Postgres> for Ts {
    fn type_info() -> PgTypeInfo {
        <NaiveDateTime as Type<Postgres>>::type_info()
    }
}

impl<'q> Encode<'q, Postgres> for Ts {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Postgres>::encode_by_ref(&self.0, buf)
    }
}

impl<'r> Decode<'r, Postgres> for Ts {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(Ts(<NaiveDateTime as Decode<Postgres>>::decode(value)?))
    }
}

#[cfg(test)]
mod tests {
    use super::Ts;

    #[test]
    fn far_offsets_stop_at_the_calendar_s_ends() {
        let now = Ts::now();
        assert_eq!(now.plus_seconds(i64::MAX).0, chrono::NaiveDateTime::MAX);
        assert_eq!(now.plus_seconds(268_435_455 * 86_400).0, chrono::NaiveDateTime::MAX);
        assert_eq!(now.plus_seconds(i64::MIN).0, chrono::NaiveDateTime::MIN);
        assert_eq!(now.plus_seconds(60).seconds_since(now), 60.0);
    }

    #[test]
    fn reads_every_format_the_original_and_others_write() {
        let expected = Ts::parse("2026-02-03 12:34:56.123456").unwrap();
        for text in [
            "2026-02-03T12:34:56.123456",
            "2026-02-03T12:34:56.123456Z",
            "2026-02-03 12:34:56.123456+00:00",
            "2026-02-03T14:34:56.123456+02:00",
        ] {
            assert_eq!(Ts::parse(text).unwrap(), expected, "{text}");
        }
        assert!(Ts::parse("2026-02-03 12:34:56").is_ok());
        assert!(Ts::parse("yesterday").is_err());
    }

    #[test]
    fn sqlite_text_keeps_six_fraction_digits() {
        let ts = Ts::parse("2026-02-03 12:34:56").unwrap();
        assert_eq!(ts.0.format(super::SQLITE_FORMAT).to_string(), "2026-02-03 12:34:56.000000");
    }
}
