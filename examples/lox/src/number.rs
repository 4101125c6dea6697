//! Numbers as clox prints them: C's `printf("%g")`.
//!
//! `%g` with its default precision of 6 significant digits: the value is
//! rounded to 6 significant digits; if the decimal exponent X of the
//! rounded value satisfies -4 <= X < 6 it is written in fixed notation
//! with 5 - X decimals, otherwise in exponential notation (`1e+06`,
//! `1.5e-07`: at least two exponent digits, with a sign); in both cases
//! trailing zeros of the fraction and a trailing point are removed.
//! Infinities are `inf`/`-inf`, NaNs `nan`/`-nan` by their sign bit (as
//! glibc prints them; the NaN that x86 produces for `0/0` is negative),
//! and negative zero is `-0`.
//!
//! Rust's own formatting does the correctly rounded decimal conversion
//! (`{:.5e}`, `{:.N}`); this module only chooses the notation and trims.

/// `x` formatted as C's `printf("%g", x)`.
pub fn format_number(x: f64) -> String {
    if x.is_nan() {
        return if x.is_sign_negative() {
            "-nan".into()
        } else {
            "nan".into()
        };
    }
    if x.is_infinite() {
        return if x < 0.0 { "-inf".into() } else { "inf".into() };
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0".into() } else { "0".into() };
    }
    const P: i32 = 6;
    // Rounded to P significant digits, in exponential form: "d.ddddde[-]X".
    let exp_form = format!("{:.*e}", (P - 1) as usize, x);
    let (mantissa, exponent) = exp_form.split_once('e').unwrap_or((&exp_form, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if (-4..P).contains(&exponent) {
        let decimals = (P - 1 - exponent) as usize;
        trim_fraction(&format!("{:.*}", decimals, x)).to_owned()
    } else {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim_fraction(mantissa), sign, exponent.abs())
    }
}

/// Removes trailing zeros of a fraction, then a trailing point.
fn trim_fraction(s: &str) -> &str {
    if !s.contains('.') {
        return s;
    }
    s.trim_end_matches('0').trim_end_matches('.')
}

#[cfg(test)]
mod tests {
    use super::format_number as g;

    #[test]
    fn like_printf_g() {
        assert_eq!(g(3.0), "3");
        assert_eq!(g(2.5), "2.5");
        assert_eq!(g(-2.5), "-2.5");
        assert_eq!(g(1.0 / 3.0), "0.333333");
        assert_eq!(g(2.0 / 3.0), "0.666667");
        assert_eq!(g(100000.0), "100000");
        assert_eq!(g(999999.0), "999999");
        assert_eq!(g(1000000.0), "1e+06");
        assert_eq!(g(9999995.0), "1e+07");
        assert_eq!(g(123456789.0), "1.23457e+08");
        assert_eq!(g(0.0001), "0.0001");
        assert_eq!(g(0.00001), "1e-05");
        assert_eq!(g(0.000123456789), "0.000123457");
        assert_eq!(g(1.5e-7), "1.5e-07");
        assert_eq!(g(1e100), "1e+100");
        assert_eq!(g(1e-300), "1e-300");
        assert_eq!(g(832040.0), "832040");
        assert_eq!(g(0.1 + 0.2), "0.3");
        assert_eq!(g(-0.0), "-0");
        assert_eq!(g(0.0), "0");
        assert_eq!(g(f64::INFINITY), "inf");
        assert_eq!(g(f64::NEG_INFINITY), "-inf");
        assert_eq!(g(f64::NAN), "nan");
        assert_eq!(g(-f64::NAN), "-nan");
        assert_eq!(g(99999.95), "99999.9");
        assert_eq!(g(12345.65), "12345.6");
        assert_eq!(g(123456.5), "123456");
        assert_eq!(g(1234565.0), "1.23456e+06");
        assert_eq!(g(0.5), "0.5");
        assert_eq!(g(2.5e-5), "2.5e-05");
        assert_eq!(g(1.2345e-5), "1.2345e-05");
    }
}
