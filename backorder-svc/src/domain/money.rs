//! Money: integer minor units of an ISO 4217 currency inside, exact decimal strings outside.
//! No floats anywhere on this path.

use rust_decimal::Decimal;
use std::fmt;
use std::str::FromStr;

/// A currency code known to ISO 4217, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a three-letter ISO 4217 currency code, got {0:?}")]
    UnknownCurrency(String),
    #[error("must be a decimal number such as \"12.50\", got {0:?}")]
    NotADecimal(String),
    #[error("{currency} has {exponent} decimal places; {amount:?} has more")]
    TooPrecise {
        currency: String,
        exponent: u8,
        amount: String,
    },
    #[error("is too large")]
    Overflow,
    #[error("must be greater than zero, got {0}")]
    NotPositive(String),
    #[error("must not be zero")]
    Zero,
    #[error("must be in {expected}, got {got}")]
    CurrencyMismatch { expected: String, got: String },
}

impl Currency {
    /// Parses an ISO 4217 code; case-sensitive upper case like the standard writes it.
    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let unknown = || MoneyError::UnknownCurrency(code.to_string());
        if code.len() != 3 || !code.bytes().all(|b| b.is_ascii_uppercase()) {
            return Err(unknown());
        }
        let iso = iso_currency::Currency::from_code(code).ok_or_else(unknown)?;
        // Funds, precious metals and "no currency" codes have no exponent: not money we hold.
        let exponent = iso.exponent().ok_or_else(unknown)?;
        let bytes = code.as_bytes();
        Ok(Self {
            code: [bytes[0], bytes[1], bytes[2]],
            exponent: u8::try_from(exponent).map_err(|_| unknown())?,
        })
    }

    pub fn code(&self) -> &str {
        // The bytes came from a validated ASCII string.
        std::str::from_utf8(&self.code).unwrap_or("???")
    }

    pub fn exponent(&self) -> u8 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A signed amount in minor units of one currency.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    pub currency: Currency,
    pub minor: i64,
}

impl Money {
    pub fn new(currency: Currency, minor: i64) -> Self {
        Self { currency, minor }
    }

    pub fn zero(currency: Currency) -> Self {
        Self::new(currency, 0)
    }

    /// Parses an exact decimal string ("12.50", "-3", "0.5") in `currency`. More decimals than
    /// the currency has is an error, never a rounding.
    pub fn parse(currency: Currency, amount: &str) -> Result<Self, MoneyError> {
        let text = amount.trim();
        let valid_shape = !text.is_empty()
            && text
                .trim_start_matches(['-', '+'])
                .bytes()
                .all(|b| b.is_ascii_digit() || b == b'.')
            && text
                .trim_start_matches(['-', '+'])
                .starts_with(|c: char| c.is_ascii_digit());
        if !valid_shape {
            return Err(MoneyError::NotADecimal(amount.to_string()));
        }
        let decimal =
            Decimal::from_str(text).map_err(|_| MoneyError::NotADecimal(amount.to_string()))?;
        let normalized = decimal.normalize();
        if normalized.scale() > u32::from(currency.exponent) {
            return Err(MoneyError::TooPrecise {
                currency: currency.code().to_string(),
                exponent: currency.exponent,
                amount: amount.to_string(),
            });
        }
        let factor = Decimal::from(10i64.pow(u32::from(currency.exponent)));
        let minor = normalized
            .checked_mul(factor)
            .ok_or(MoneyError::Overflow)?
            .trunc();
        let minor = i64::try_from(minor).map_err(|_| MoneyError::Overflow)?;
        Ok(Self { currency, minor })
    }

    /// Parses an amount that must be strictly positive (deposits, prices, holds).
    pub fn parse_positive(currency: Currency, amount: &str) -> Result<Self, MoneyError> {
        let money = Self::parse(currency, amount)?;
        if money.minor <= 0 {
            return Err(MoneyError::NotPositive(amount.trim().to_string()));
        }
        Ok(money)
    }

    /// The exact decimal string with exactly the currency's number of decimals.
    pub fn amount_string(&self) -> String {
        let mut decimal = Decimal::from(self.minor);
        decimal
            .set_scale(u32::from(self.currency.exponent))
            .expect("exponent of an ISO currency is at most 4");
        decimal.to_string()
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("USD").unwrap()
    }

    #[test]
    fn parses_exact_decimals() {
        assert_eq!(Money::parse(usd(), "12.50").unwrap().minor, 1250);
        assert_eq!(Money::parse(usd(), "12.5").unwrap().minor, 1250);
        assert_eq!(Money::parse(usd(), "7").unwrap().minor, 700);
        assert_eq!(Money::parse(usd(), "-0.01").unwrap().minor, -1);
        assert_eq!(Money::parse(usd(), "1.500").unwrap().minor, 150);
    }

    #[test]
    fn refuses_over_precise_and_malformed_amounts() {
        assert!(matches!(
            Money::parse(usd(), "1.005"),
            Err(MoneyError::TooPrecise { .. })
        ));
        let jpy = Currency::parse("JPY").unwrap();
        assert!(matches!(
            Money::parse(jpy, "1.5"),
            Err(MoneyError::TooPrecise { .. })
        ));
        for bad in ["", "abc", "1e3", "1,00", ".5", "--1", "NaN", "1.2.3"] {
            assert!(Money::parse(usd(), bad).is_err(), "{bad:?} accepted");
        }
        assert!(matches!(
            Money::parse(usd(), "99999999999999999999"),
            Err(MoneyError::Overflow)
        ));
    }

    #[test]
    fn positive_amounts_refuse_zero_and_negative() {
        assert!(matches!(
            Money::parse_positive(usd(), "0.00"),
            Err(MoneyError::NotPositive(_))
        ));
        assert!(matches!(
            Money::parse_positive(usd(), "-5"),
            Err(MoneyError::NotPositive(_))
        ));
    }

    #[test]
    fn formats_with_the_currency_exponent() {
        assert_eq!(Money::new(usd(), 1250).amount_string(), "12.50");
        assert_eq!(Money::new(usd(), -5).amount_string(), "-0.05");
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::new(kwd, 1).amount_string(), "0.001");
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::new(jpy, 300).amount_string(), "300");
    }

    #[test]
    fn currency_codes_must_be_iso_4217() {
        assert!(Currency::parse("USD").is_ok());
        for bad in ["usd", "US", "XXX", "ABC", "XAU", ""] {
            assert!(Currency::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    proptest::proptest! {
        #[test]
        fn formatting_round_trips(minor in -1_000_000_000_000i64..1_000_000_000_000i64) {
            let money = Money::new(usd(), minor);
            proptest::prop_assert_eq!(Money::parse(usd(), &money.amount_string()).unwrap(), money);
        }
    }
}
