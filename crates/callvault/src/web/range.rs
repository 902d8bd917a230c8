//! The HTTP `Range` header for audio (RFC 9110 §14): one byte range, or the
//! whole file.

use std::ops::Range;

/// What to send for a request's `Range` header against a blob of `size` bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything with 200.
    Full,
    /// Send these bytes with 206.
    Partial(Range<u64>),
    /// The range lies outside the blob: 416.
    Unsatisfiable,
}

/// Interprets `header` for a blob of `size` bytes. Malformed headers, other
/// units and multiple ranges are ignored (the whole file is sent), as the RFC
/// allows; a well-formed range that starts past the end is unsatisfiable.
pub fn parse_range(header: Option<&str>, size: u64) -> RangeRequest {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else {
        return RangeRequest::Full;
    };
    if spec.contains(',') {
        return RangeRequest::Full;
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return RangeRequest::Full;
    };
    let (start, end) = (start.trim(), end.trim());
    if start.is_empty() {
        // Suffix range: the last `n` bytes.
        let Ok(n) = end.parse::<u64>() else {
            return RangeRequest::Full;
        };
        if n == 0 || size == 0 {
            return RangeRequest::Unsatisfiable;
        }
        return RangeRequest::Partial(size.saturating_sub(n)..size);
    }
    let Ok(first) = start.parse::<u64>() else {
        return RangeRequest::Full;
    };
    let last = if end.is_empty() {
        None
    } else {
        match end.parse::<u64>() {
            Ok(last) if last >= first => Some(last),
            _ => return RangeRequest::Full,
        }
    };
    if first >= size {
        return RangeRequest::Unsatisfiable;
    }
    let end_exclusive = match last {
        Some(last) => last.saturating_add(1).min(size),
        None => size,
    };
    RangeRequest::Partial(first..end_exclusive)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        let size = 1000;
        let table: &[(Option<&str>, RangeRequest)] = &[
            (None, RangeRequest::Full),
            (Some("bytes=0-"), RangeRequest::Partial(0..1000)),
            (Some("bytes=0-99"), RangeRequest::Partial(0..100)),
            (Some("bytes=900-5000"), RangeRequest::Partial(900..1000)),
            (Some("bytes=-100"), RangeRequest::Partial(900..1000)),
            (Some("bytes=-5000"), RangeRequest::Partial(0..1000)),
            (Some("bytes=999-999"), RangeRequest::Partial(999..1000)),
            (Some("bytes=1000-"), RangeRequest::Unsatisfiable),
            (Some("bytes=2000-3000"), RangeRequest::Unsatisfiable),
            (Some("bytes=-0"), RangeRequest::Unsatisfiable),
            (Some("bytes=5-2"), RangeRequest::Full),
            (Some("bytes=a-b"), RangeRequest::Full),
            (Some("bytes=0-1,5-6"), RangeRequest::Full),
            (Some("items=0-1"), RangeRequest::Full),
            (
                Some("bytes=18446744073709551615-"),
                RangeRequest::Unsatisfiable,
            ),
            (
                Some("bytes=0-18446744073709551615"),
                RangeRequest::Partial(0..1000),
            ),
        ];
        for (header, want) in table {
            assert_eq!(&parse_range(*header, size), want, "{header:?}");
        }
    }

    #[test]
    fn an_empty_blob_satisfies_no_range() {
        assert_eq!(
            parse_range(Some("bytes=0-"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(
            parse_range(Some("bytes=-1"), 0),
            RangeRequest::Unsatisfiable
        );
        assert_eq!(parse_range(None, 0), RangeRequest::Full);
    }
}
