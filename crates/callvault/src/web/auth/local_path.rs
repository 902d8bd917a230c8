//! Where to send a browser after login: a path on this site, or nothing.
//!
//! Parse, don't validate: a [`LocalPath`] can only be made by
//! [`LocalPath::parse`], so a redirect built from one cannot leave the site.
//! The rules are strict because browsers are lenient: they drop tabs and
//! newlines inside a URL (`/\t/evil.example` becomes `//evil.example`, a
//! link to another host), read `\` as `/`, and servers and proxies may
//! decode `%2f` before routing. So the text must be:
//!
//! * visible ASCII only (no control, space, DEL or non-ASCII byte), with no
//!   backslash and well-formed `%XX` escapes;
//! * a path starting with exactly one `/` (no scheme, no authority);
//! * still free of control and whitespace characters, backslashes and `//`
//!   in the path once percent-decoded (`/%2f/evil.example`, `/%09/…`);
//!   the query and fragment, once decoded, may hold spaces (a search for
//!   "Dana Caller") but no control characters.
//!
//! Anything else is refused and the caller falls back to `/calls`.

/// A path (with optional query and fragment) on this site, safe to put in a
/// `Location` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalPath(String);

/// Longest `next` followed.
const MAX_LEN: usize = 2048;

impl LocalPath {
    /// Where to go when `next` is missing or refused.
    pub fn home() -> LocalPath {
        LocalPath("/calls".to_owned())
    }

    /// `text` as a local path, or `None` when it could lead anywhere else.
    pub fn parse(text: &str) -> Option<LocalPath> {
        let bytes = text.as_bytes();
        if bytes.len() > MAX_LEN || bytes.first() != Some(&b'/') {
            return None;
        }
        if !bytes.iter().all(|b| b.is_ascii_graphic() && *b != b'\\') {
            return None;
        }
        let split = text.find(['?', '#']).unwrap_or(text.len());
        let (path, rest) = text.split_at(split);
        let path = percent_decode(path)?;
        let path = String::from_utf8(path).ok()?;
        if path.starts_with("//")
            || path.contains("//")
            || path.contains('\\')
            || path.chars().any(|c| c.is_control() || c.is_whitespace())
        {
            return None;
        }
        let rest = percent_decode(rest)?;
        if rest.iter().any(|b| b.is_ascii_control()) {
            return None;
        }
        if String::from_utf8_lossy(&rest)
            .chars()
            .any(|c| c.is_control())
        {
            return None;
        }
        Some(LocalPath(text.to_owned()))
    }

    /// `next` when it is a local path, else `/calls`.
    pub fn or_home(next: Option<&str>) -> LocalPath {
        next.and_then(LocalPath::parse)
            .unwrap_or_else(LocalPath::home)
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Decodes `%XX` escapes; `None` when one is malformed.
fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            let hex = std::str::from_utf8(hex).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_paths_are_kept() {
        for ok in [
            "/calls",
            "/conversations/s-convA",
            "/calls?q=Dana%20Caller&page=2",
            "/calls?party=%2B1415",
            "/audit#top",
        ] {
            assert_eq!(LocalPath::parse(ok).map(|p| p.0), Some(ok.to_owned()));
        }
    }

    #[test]
    fn anything_that_could_leave_the_site_is_refused() {
        for bad in [
            "",
            "calls",
            "//evil.example/",
            "/\\evil.example",
            "/\t/evil.example/",
            "/%09/evil.example/",
            "/%0a/evil.example",
            "/%0d%0a/evil.example",
            "/%2f/evil.example",
            "/%2F%2Fevil.example",
            "/%5c/evil.example",
            "/%5C%5Cevil.example",
            "/%7F",
            "/%00",
            "/%",
            "/%zz",
            "/a%2",
            "https://evil.example/",
            "/ /evil.example",
            "/\u{a0}/evil.example",
            "/%C2%A0/evil.example",
            "/%E2%80%83/evil.example",
            "/%E3%80%80/evil.example",
            "/\u{2028}",
            "/calls?x=%0d%0aSet-Cookie:%20a=b",
            "/calls?x=%7F",
            "/calls?x=%C2%85",
            "/a/\u{7f}",
        ] {
            assert_eq!(LocalPath::parse(bad), None, "{bad:?}");
        }
        assert_eq!(LocalPath::or_home(Some("//x")).as_str(), "/calls");
        assert_eq!(LocalPath::or_home(None).as_str(), "/calls");
    }
}
