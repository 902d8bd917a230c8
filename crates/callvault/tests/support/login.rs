//! Logging in to a real server through its login form (included with
//! `#[path]` by the web and live test binaries): fetch the form, post it
//! with its CSRF token.

/// The value of the hidden `csrf` field in `html`.
pub fn csrf_field(html: &str) -> String {
    let marker = "name=\"csrf\" value=\"";
    let start = html.find(marker).expect("a csrf field") + marker.len();
    let end = html[start..].find('"').unwrap() + start;
    html[start..end].to_owned()
}

/// The CSRF token of the form on the page at `url`, fetched with `client`
/// (whose session the token is bound to).
pub async fn form_csrf(client: &reqwest::Client, url: &str) -> String {
    let html = client.get(url).send().await.unwrap().text().await.unwrap();
    csrf_field(&html)
}

/// Fetches `base`'s login form with `client` and posts it as `user`,
/// asking to land on `next`; the server's answer.
pub async fn post_login(
    client: &reqwest::Client,
    base: &str,
    user: &str,
    password: &str,
    next: &str,
) -> reqwest::Response {
    let csrf = form_csrf(client, &format!("{base}/login")).await;
    client
        .post(format!("{base}/login"))
        .form(&[
            ("username", user),
            ("password", password),
            ("csrf", &csrf),
            ("next", next),
        ])
        .send()
        .await
        .unwrap()
}
