//! Money: integer minor units of an ISO 4217 currency inside, exact decimal strings outside.
//! No floats anywhere on this path.

use super::quote;
use rust_decimal::Decimal;
use std::fmt;

/// A currency code known to ISO 4217, with its number of minor-unit digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    exponent: u8,
}

/// The largest magnitude of any single amount, in minor units: 10^13 (100,000,000,000.00 USD,
/// 10,000,000,000,000 JPY). Checked when an amount is parsed, before any database sees it.
pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;

/// The largest value any ledger counter may reach, in minor units: 10^15, 100 times
/// `MAX_AMOUNT_MINOR` and about 9,000 times below `i64::MAX`, so a counter plus an amount can
/// never overflow a 64-bit integer in either database (docs/ledger.md, "Amount bounds").
pub const MAX_COUNTER_MINOR: i64 = 1_000_000_000_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("must be a three-letter ISO 4217 currency code, got {}", quote(.0))]
    UnknownCurrency(String),
    #[error(
        "must be a plain decimal such as \"12.50\" (an optional '-', digits without leading \
         zeros, optionally '.' and digits; no spaces, '+' or exponent), got {}",
        quote(.0)
    )]
    NotADecimal(String),
    #[error("{currency} has {exponent} decimal places; {} has more", quote(.amount))]
    TooPrecise {
        currency: String,
        exponent: u8,
        amount: String,
    },
    #[error("must be at most {max} in magnitude, got {}", quote(.amount))]
    TooLarge { max: String, amount: String },
    #[error("must be greater than zero, got {}", quote(.0))]
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

    /// Parses an exact decimal string ("12.50", "-3", "0.5") in `currency`, strictly:
    /// `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most the currency's number of decimals (more is
    /// an error, never a rounding) and a magnitude of at most `MAX_AMOUNT_MINOR` minor units.
    pub fn parse(currency: Currency, amount: &str) -> Result<Self, MoneyError> {
        let not_a_decimal = || MoneyError::NotADecimal(amount.to_string());
        let (negative, unsigned) = match amount.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, amount),
        };
        let (whole, fraction) = match unsigned.split_once('.') {
            Some((whole, fraction)) => (whole, Some(fraction)),
            None => (unsigned, None),
        };
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        if !digits(whole)
            || (whole.len() > 1 && whole.starts_with('0'))
            || fraction.is_some_and(|f| !digits(f))
        {
            return Err(not_a_decimal());
        }
        let fraction = fraction.unwrap_or("");
        let exponent = usize::from(currency.exponent);
        if fraction.len() > exponent {
            return Err(MoneyError::TooPrecise {
                currency: currency.code().to_string(),
                exponent: currency.exponent,
                amount: amount.to_string(),
            });
        }
        let too_large = || MoneyError::TooLarge {
            max: Self::new(currency, MAX_AMOUNT_MINOR).amount_string(),
            amount: amount.to_string(),
        };
        // Digit by digit with a bound far below i64::MAX: nothing can overflow.
        let mut minor: i64 = 0;
        let padding = std::iter::repeat_n(b'0', exponent - fraction.len());
        for b in whole.bytes().chain(fraction.bytes()).chain(padding) {
            minor = minor * 10 + i64::from(b - b'0');
            if minor > MAX_AMOUNT_MINOR {
                return Err(too_large());
            }
        }
        Ok(Self {
            currency,
            minor: if negative { -minor } else { minor },
        })
    }

    /// Parses an amount that must be strictly positive (deposits, prices, holds).
    pub fn parse_positive(currency: Currency, amount: &str) -> Result<Self, MoneyError> {
        let money = Self::parse(currency, amount)?;
        if money.minor <= 0 {
            return Err(MoneyError::NotPositive(amount.to_string()));
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
        assert_eq!(Money::parse(usd(), "0").unwrap().minor, 0);
        assert_eq!(Money::parse(usd(), "0.07").unwrap().minor, 7);
        assert_eq!(Money::parse(usd(), "-0.01").unwrap().minor, -1);
        assert_eq!(Money::parse(usd(), "100.00").unwrap().minor, 10000);
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(Money::parse(jpy, "300").unwrap().minor, 300);
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(Money::parse(kwd, "1.005").unwrap().minor, 1005);
    }

    #[test]
    fn refuses_over_precise_amounts() {
        for bad in ["1.005", "1.500", "1.000", "0.001"] {
            assert!(
                matches!(Money::parse(usd(), bad), Err(MoneyError::TooPrecise { .. })),
                "{bad:?}"
            );
        }
        let jpy = Currency::parse("JPY").unwrap();
        for bad in ["1.5", "1.0", "1."] {
            assert!(Money::parse(jpy, bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn refuses_lenient_syntax() {
        for bad in [
            "", " 1.00", "1.00 ", "\t1", "+1.00", "1.", "-", "-.5", ".5", "00001.00", "01", "-01",
            "00", "--1", "-+1", "+-1", "1e3", "1E3", "1,00", "1_000", "0x10", "NaN", "inf",
            "1.2.3", "1..2", "abc", "١", "１", "1 000", "- 1",
        ] {
            assert!(
                matches!(
                    Money::parse(usd(), bad),
                    Err(MoneyError::NotADecimal(_) | MoneyError::TooPrecise { .. })
                ),
                "{bad:?} accepted"
            );
        }
    }

    #[test]
    fn amounts_are_bounded() {
        let max = Money::parse(usd(), "100000000000.00").unwrap();
        assert_eq!(max.minor, MAX_AMOUNT_MINOR);
        assert_eq!(
            Money::parse(usd(), "-100000000000").unwrap().minor,
            -MAX_AMOUNT_MINOR
        );
        for bad in [
            "100000000000.01",
            "-100000000000.01",
            "92233720368547758.07",
            "-92233720368547758.08",
            "46116860184273879.04",
            "99999999999999999999999999999999999999999",
        ] {
            let error = Money::parse(usd(), bad).unwrap_err();
            assert!(
                matches!(error, MoneyError::TooLarge { .. }),
                "{bad:?}: {error}"
            );
            assert!(
                error.to_string().contains("at most 100000000000.00"),
                "{error}"
            );
        }
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(
            Money::parse(jpy, "10000000000000").unwrap().minor,
            MAX_AMOUNT_MINOR
        );
        assert!(Money::parse(jpy, "10000000000001").is_err());
        const { assert!(MAX_COUNTER_MINOR / 100 == MAX_AMOUNT_MINOR) };
        const { assert!(MAX_COUNTER_MINOR < i64::MAX / 1000) };
    }

    #[test]
    fn errors_quote_a_short_prefix_of_a_bad_value() {
        let long = format!("1{}", "0".repeat(9_999));
        let message = Money::parse(usd(), &long).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
        assert!(message.contains("(10000 characters)"), "{message}");
        let junk = "x".repeat(100_000);
        let message = Money::parse(usd(), &junk).unwrap_err().to_string();
        assert!(message.len() < 300, "{message}");
        assert_eq!(quote("1.0"), "`1.0`");
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
