//! `next` after login never leaves the site, whatever it holds.

use crate::helpers::*;

/// Where a browser at `base` lands for `location` (the WHATWG URL parser,
/// as browsers use: tabs and newlines dropped, `\` read as `/`).
fn lands_on(base: &str, location: &str) -> url::Url {
    url::Url::parse(base).unwrap().join(location).unwrap()
}

/// Hostile `next` targets: tabs, newlines, backslashes, `//`, encoded
/// slashes, DEL, NUL, Unicode spaces, schemes; raw and percent-encoded.
fn hostile() -> Vec<String> {
    [
        "//evil.example/",
        "///evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example/",
        "/%09/evil.example/",
        "/%0a/evil.example/",
        "/%0d/evil.example/",
        "/%0d%0aLocation:%20https://evil.example/",
        "/%2f/evil.example/",
        "/%2F%2Fevil.example/",
        "/%5c/evil.example",
        "/%5C%5Cevil.example",
        "/%7F",
        "/%7f/evil.example",
        "/%00/evil.example",
        "/%",
        "/%GG",
        "/ /evil.example",
        "/%20/evil.example",
        "/\u{a0}/evil.example",
        "/%C2%A0/evil.example",
        "/\u{3000}/evil.example",
        "/%E3%80%80/evil.example",
        "/%E2%80%A8/evil.example",
        "/\u{feff}/evil.example",
        "https://evil.example/",
        "http:evil.example",
        "javascript:alert(1)",
        "evil.example",
        "",
        "/calls?x=%0d%0aSet-Cookie:%20cv_session=x",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

/// Every pair of tricky pieces after a leading slash: some are plain local
/// paths (`/@:evil.example/`), the rest must be refused; none may leave.
fn combinations() -> Vec<String> {
    let mut out = Vec::new();
    let pieces = [
        "/",
        "\\",
        "\t",
        "\n",
        "\r",
        "%09",
        "%0A",
        "%2f",
        "%5c",
        "%7f",
        "%00",
        " ",
        "%20",
        "\u{a0}",
        "%e2%80%83",
        "\u{7f}",
        "@",
        ":",
    ];
    for a in pieces {
        for b in pieces {
            out.push(format!("/{a}{b}evil.example/"));
        }
    }
    out
}

#[tokio::test]
async fn the_login_form_never_carries_a_next_that_leaves_the_site() {
    let app = spawn_app().await;
    let c = client();
    let home = url::Url::parse(&app.base).unwrap();
    let curated = hostile();
    for target in curated.iter().chain(combinations().iter()) {
        let url = reqwest::Url::parse_with_params(&app.url("/login"), [("next", &target)]).unwrap();
        let r = c.get(url).send().await.unwrap();
        assert_eq!(r.status(), 200, "{target:?}");
        let html = r.text().await.unwrap();
        let marker = "name=\"next\" value=\"";
        let start = html.find(marker).expect("a next field") + marker.len();
        let value = &html[start..start + html[start..].find('"').unwrap()];
        let value = value.replace("&#x2f;", "/").replace("&amp;", "&");
        if curated.contains(target) {
            assert_eq!(value, "/calls", "{target:?} was kept as {value:?}");
        } else {
            assert!(
                value == "/calls" || value == *target,
                "{target:?} became {value:?}"
            );
        }
        let landed = lands_on(&app.base, &value);
        assert_eq!(
            landed.origin(),
            home.origin(),
            "{target:?} → {value:?} leaves"
        );
        assert!(!landed.path().starts_with("//"), "{target:?} → {landed}");
    }
}

#[tokio::test]
async fn after_login_hostile_targets_land_on_the_calls_page_and_good_ones_are_kept() {
    let app = spawn_app().await;
    let mut targets: Vec<(String, bool)> = hostile().into_iter().map(|t| (t, false)).collect();
    for good in [
        "/conversations/s-convA",
        "/calls?q=Dana%20Caller&page=2",
        "/audit",
    ] {
        targets.push((good.to_owned(), true));
    }
    for (target, good) in targets {
        let c = client();
        let html = c
            .get(app.url("/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = csrf_field(&html);
        let r = c
            .post(app.url("/login"))
            .form(&[
                ("username", ADMIN.0),
                ("password", ADMIN.1),
                ("csrf", csrf.as_str()),
                ("next", target.as_str()),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 303, "{target:?}: no 500");
        let location = r.headers()["location"].to_str().unwrap().to_owned();
        let landed = lands_on(&app.base, &location);
        let home = url::Url::parse(&app.base).unwrap();
        assert_eq!(
            (landed.scheme(), landed.host_str(), landed.port()),
            (home.scheme(), home.host_str(), home.port()),
            "{target:?} → {location:?} left the site"
        );
        if good {
            assert_eq!(location, target);
        } else {
            assert_eq!(location, "/calls", "{target:?}");
        }
    }
}
