//! How numbers and times read on screen.

use chrono::{DateTime, Local, Utc};

pub fn relative(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let seconds = (now - at).num_seconds();
    let (amount, ago) = (seconds.abs(), seconds >= 0);
    let text = match amount {
        0..=4 => return if ago { "just now".to_owned() } else { "in a moment".to_owned() },
        5..=59 => format!("{amount}s"),
        60..=3599 => format!("{}m", amount / 60),
        3600..=86_399 => format!("{}h", amount / 3600),
        _ => format!("{}d", amount / 86_400),
    };
    if ago {
        format!("{text} ago")
    } else {
        format!("in {text}")
    }
}

/// `at` in UTC or in local time, each with its own pattern.
fn in_zone(at: DateTime<Utc>, utc: bool, utc_pattern: &str, local_pattern: &str) -> String {
    match utc {
        true => at.format(utc_pattern).to_string(),
        false => at.with_timezone(&Local).format(local_pattern).to_string(),
    }
}

pub fn exact(at: DateTime<Utc>, utc: bool) -> String {
    in_zone(at, utc, "%Y-%m-%d %H:%M:%S UTC", "%Y-%m-%d %H:%M:%S %:z")
}

/// The time of day alone, as log viewers show it.
pub fn time_of_day(at: DateTime<Utc>, utc: bool) -> String {
    in_zone(at, utc, "%H:%M:%S", "%H:%M:%S")
}

pub fn duration(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else { return "—".to_owned() };
    match seconds {
        s if s < 1.0 => format!("{:.0} ms", s * 1000.0),
        s if s < 60.0 => format!("{s:.1} s"),
        s if s < 3600.0 => format!("{}m {:02}s", (s / 60.0) as u64, (s % 60.0) as u64),
        s => format!("{}h {:02}m", (s / 3600.0) as u64, ((s % 3600.0) / 60.0) as u64),
    }
}

pub fn cost(usd: Option<f64>) -> String {
    match usd {
        None => "—".to_owned(),
        Some(v) if v != 0.0 && v.abs() < 1.0 => format!("${v:.4}"),
        Some(v) => {
            let cents = (v * 100.0).round() as i64;
            format!("${}.{:02}", grouped(cents / 100), (cents % 100).abs())
        }
    }
}

pub fn tokens(count: Option<i64>) -> String {
    count.map(grouped).unwrap_or_else(|| "—".to_owned())
}

/// `15719658` → `15.7M`, for cards.
pub fn compact(count: i64) -> String {
    match count {
        n if n >= 1_000_000_000 => format!("{:.1}B", n as f64 / 1e9),
        n if n >= 1_000_000 => format!("{:.1}M", n as f64 / 1e6),
        n if n >= 10_000 => format!("{:.1}k", n as f64 / 1e3),
        n => grouped(n),
    }
}

fn grouped(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 {
        format!("-{out}")
    } else {
        out
    }
}

/// Plain numbers, for charts' axes and compared values (`fn(f64) -> String`).
pub mod value {
    pub fn usd(v: f64) -> String {
        super::cost(Some(v))
    }

    pub fn seconds(v: f64) -> String {
        super::duration(Some(v))
    }

    /// Every digit, grouped: `15,719,658`.
    pub fn count(v: f64) -> String {
        super::tokens(Some(v.round() as i64))
    }

    /// Short, for axes: `15.7M`.
    pub fn compact(v: f64) -> String {
        super::compact(v.round() as i64)
    }
}

pub fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_read_well() {
        assert_eq!(tokens(Some(15_719_658)), "15,719,658");
        assert_eq!(compact(15_719_658), "15.7M");
        assert_eq!(cost(Some(0.00321)), "$0.0032");
        assert_eq!(cost(Some(24.7757)), "$24.78");
        assert_eq!(cost(Some(1234.5)), "$1,234.50");
        assert_eq!(duration(Some(0.25)), "250 ms");
        assert_eq!(duration(Some(184.0)), "3m 04s");
    }
}
