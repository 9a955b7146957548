//! Money at the API edge: exact decimal strings in, integer minor units inside (no floats).
//! The drop day runs in USD (two decimals), the catalog's default currency.

use backorder_proto::backorder::v1 as pb;
use rust_decimal::Decimal;
use std::str::FromStr;

pub const CURRENCY: &str = "USD";

/// Cents of an API amount; an error for another currency or a fraction of a cent.
pub fn cents(money: &pb::Money) -> anyhow::Result<i64> {
    anyhow::ensure!(
        money.currency_code == CURRENCY,
        "expected {CURRENCY}, got {:?}",
        money.currency_code
    );
    cents_of(&money.amount)
}

/// Cents of a decimal string such as `"12.50"` or `"-3"`.
pub fn cents_of(amount: &str) -> anyhow::Result<i64> {
    let value = Decimal::from_str(amount.trim())
        .map_err(|e| anyhow::anyhow!("{amount:?} is not a decimal amount: {e}"))?;
    let scaled = value * Decimal::ONE_HUNDRED;
    anyhow::ensure!(
        scaled.fract().is_zero(),
        "{amount:?} has a fraction of a cent"
    );
    i64::try_from(scaled).map_err(|_| anyhow::anyhow!("{amount:?} is out of range"))
}

/// Cents of an optional API amount; absent is zero.
pub fn cents_or_zero(money: Option<&pb::Money>) -> anyhow::Result<i64> {
    money.map_or(Ok(0), cents)
}

/// `"12.50"`.
pub fn format(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

pub fn usd(cents: i64) -> pb::Money {
    pb::Money {
        currency_code: CURRENCY.to_string(),
        amount: format(cents),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimal_strings_round_trip_through_cents() {
        assert_eq!(cents_of("12.50").unwrap(), 1250);
        assert_eq!(cents_of("-3").unwrap(), -300);
        assert_eq!(cents_of("0.01").unwrap(), 1);
        assert!(cents_of("0.001").is_err());
        assert_eq!(format(1250), "12.50");
        assert_eq!(format(-5), "-0.05");
        assert_eq!(cents(&usd(123_456)).unwrap(), 123_456);
    }
}
