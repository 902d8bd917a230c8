//! The marker code: a marker's decimal digits between a start and a stop
//! symbol, with a check digit, sent as DTMF dual tones.
//!
//! Sequence: `*`, the digits, the check digit, `#`. A digit equal to the one
//! before it is sent as `A` ("repeat"), so two neighbouring symbols always
//! differ and the detector never has to find the gap between them.

/// One DTMF symbol (the standard 4×4 keypad).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Symbol {
    /// A decimal digit 0–9.
    Digit(u8),
    /// `*`: a marker starts.
    Start,
    /// `#`: a marker ends.
    Stop,
    /// `A`: the previous digit again.
    Repeat,
    /// `B`, `C` or `D`: unused by the code, recognised so they are not mistaken.
    Other,
}

/// Row (low group) frequencies in Hz.
pub(crate) const ROWS: [f64; 4] = [697.0, 770.0, 852.0, 941.0];
/// Column (high group) frequencies in Hz.
pub(crate) const COLS: [f64; 4] = [1209.0, 1336.0, 1477.0, 1633.0];

const KEYPAD: [[char; 4]; 4] = [
    ['1', '2', '3', 'A'],
    ['4', '5', '6', 'B'],
    ['7', '8', '9', 'C'],
    ['*', '0', '#', 'D'],
];

impl Symbol {
    fn key(self) -> char {
        match self {
            Symbol::Digit(d) => char::from(b'0' + d.min(9)),
            Symbol::Start => '*',
            Symbol::Stop => '#',
            Symbol::Repeat => 'A',
            Symbol::Other => 'D',
        }
    }

    /// The (row, column) tone pair in Hz.
    pub(crate) fn frequencies(self) -> (f64, f64) {
        let key = self.key();
        for (r, row) in KEYPAD.iter().enumerate() {
            for (c, k) in row.iter().enumerate() {
                if *k == key {
                    return (ROWS[r], COLS[c]);
                }
            }
        }
        (ROWS[3], COLS[3])
    }

    /// The symbol at keypad position (row, column).
    pub(crate) fn at(row: usize, col: usize) -> Symbol {
        match KEYPAD.get(row).and_then(|r| r.get(col)) {
            Some('*') => Symbol::Start,
            Some('#') => Symbol::Stop,
            Some('A') => Symbol::Repeat,
            Some(c) if c.is_ascii_digit() => Symbol::Digit(*c as u8 - b'0'),
            _ => Symbol::Other,
        }
    }
}

/// Weighted mod-10 check digit (weights 3, 1, 3, … from the first digit):
/// catches any single wrong digit and most swaps of neighbours.
fn check_digit(digits: &[u8]) -> u8 {
    let sum: u32 = digits
        .iter()
        .enumerate()
        .map(|(i, d)| u32::from(*d) * if i % 2 == 0 { 3 } else { 1 })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// The symbols that carry `marker`.
pub(crate) fn encode(marker: u32) -> Vec<Symbol> {
    let mut digits: Vec<u8> = marker.to_string().bytes().map(|b| b - b'0').collect();
    digits.push(check_digit(&digits));
    let mut out = vec![Symbol::Start];
    let mut prev: Option<u8> = None;
    for d in digits {
        let sym = if prev == Some(d) && out.last() != Some(&Symbol::Repeat) {
            Symbol::Repeat
        } else {
            Symbol::Digit(d)
        };
        out.push(sym);
        prev = Some(d);
    }
    out.push(Symbol::Stop);
    out
}

/// Decodes the symbols between a `*` and a `#` (both excluded). `None` when
/// they are not a valid marker (garbled, truncated, bad check digit).
pub(crate) fn decode(body: &[Symbol]) -> Option<u32> {
    let mut digits = Vec::with_capacity(body.len());
    for sym in body {
        match sym {
            Symbol::Digit(d) => digits.push(*d),
            Symbol::Repeat => digits.push(*digits.last()?),
            _ => return None,
        }
    }
    let (check, value) = digits.split_last()?;
    if value.is_empty() || value.len() > 10 || (value.len() > 1 && value[0] == 0) {
        return None;
    }
    if check_digit(value) != *check {
        return None;
    }
    value
        .iter()
        .try_fold(0u64, |acc, d| Some(acc * 10 + u64::from(*d)))
        .and_then(|v| u32::try_from(v).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_marker_round_trips_through_its_symbols() {
        for m in [0, 1, 7, 10, 11, 111, 1000, 1_112_223, 4_294_967_295, 90_909] {
            let syms = encode(m);
            assert_eq!(syms.first(), Some(&Symbol::Start));
            assert_eq!(syms.last(), Some(&Symbol::Stop));
            assert!(syms.windows(2).all(|w| w[0] != w[1]), "{m}: {syms:?}");
            assert_eq!(decode(&syms[1..syms.len() - 1]), Some(m));
        }
    }

    #[test]
    fn a_wrong_digit_fails_the_check() {
        let mut syms = encode(123_456);
        syms[3] = Symbol::Digit(9);
        assert_eq!(decode(&syms[1..syms.len() - 1]), None);
    }

    #[test]
    fn keypad_positions_match_frequencies() {
        for (r, row) in ROWS.iter().enumerate() {
            for (c, col) in COLS.iter().enumerate() {
                let s = Symbol::at(r, c);
                if s != Symbol::Other {
                    assert_eq!(s.frequencies(), (*row, *col));
                }
            }
        }
    }
}
