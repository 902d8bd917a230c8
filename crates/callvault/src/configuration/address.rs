//! The two network settings, parsed once where the configuration is read:
//! `listen` becomes a [`SocketAddr`] and `public_url` a [`Url`], so no
//! command checks a prefix or splits a string at run time, and a mistake is
//! reported before anything starts.

use std::net::SocketAddr;

use url::Url;

/// Parses `--listen` (`CALLVAULT_LISTEN`, `listen` in the file): an IP
/// address and a port, such as `127.0.0.1:8080` or `[::]:8080` (port 0 picks
/// a free one).
pub fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        format!(
            "expected an IP address and a port such as 127.0.0.1:8080 or [::]:8080 (host names are not resolved), got {s:?}"
        )
    })
}

/// Parses `--public-url` (`CALLVAULT_PUBLIC_URL`, `public_url` in the
/// file): an absolute `http` or `https` URL with a host, with no query or
/// fragment (the webhook path is appended to it).
pub fn parse_public_url(s: &str) -> Result<Url, String> {
    let url = Url::parse(s.trim()).map_err(|e| {
        format!("expected an absolute URL such as https://callvault.example.com ({e}), got {s:?}")
    })?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "expected an http:// or https:// URL, got the scheme {:?}",
            url.scheme()
        ));
    }
    if url.host().is_none() {
        return Err(format!("expected a URL with a host, got {s:?}"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "expected a URL without a query or fragment (the webhook path is appended), got {s:?}"
        ));
    }
    Ok(url)
}

/// Whether users reach us over TLS, so cookies must be `Secure`.
pub fn is_https(public_url: Option<&Url>) -> bool {
    public_url.is_some_and(|u| u.scheme() == "https")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listen_takes_an_ip_and_a_port() {
        assert_eq!(
            parse_listen("127.0.0.1:8080").unwrap(),
            "127.0.0.1:8080".parse::<SocketAddr>().unwrap()
        );
        assert_eq!(parse_listen("[::]:0").unwrap().port(), 0);
        for bad in ["", "8080", "localhost:8080", "127.0.0.1", "127.0.0.1:99999"] {
            let e = parse_listen(bad).unwrap_err();
            assert!(e.contains("IP address and a port"), "{bad}: {e}");
        }
    }

    #[test]
    fn public_url_is_an_absolute_http_url_without_query() {
        let url = parse_public_url("https://callvault.example.com").unwrap();
        assert!(is_https(Some(&url)));
        assert!(!is_https(Some(
            &parse_public_url("http://127.0.0.1:8080/cv").unwrap()
        )));
        assert!(!is_https(None));
        for (bad, why) in [
            ("callvault.example.com", "absolute URL"),
            ("ftp://example.com", "scheme"),
            ("https://example.com/?a=b", "query"),
            ("https://example.com/#x", "query or fragment"),
        ] {
            let e = parse_public_url(bad).unwrap_err();
            assert!(e.contains(why), "{bad}: {e}");
        }
    }
}
