//! eDiscovery bundles: exported by the real CLI and from the web (admins,
//! CSRF), they verify with the public key alone, hold the audio, metadata,
//! chapters, audit entries and custody record, and any changed byte in a
//! file is caught.

use std::io::Read;
use std::path::Path;

use callvault::ediscovery::verify::verify_bundle;
use vault::audit::AuditPublicKey;

use crate::audit_trail::{callvault, text};
use crate::helpers::*;

fn public_key(app: &TestApp) -> AuditPublicKey {
    AuditPublicKey::load(&app.audit_key.with_extension("key.pub")).unwrap()
}

fn names(bundle: &Path) -> Vec<String> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    (0..archive.len())
        .map(|i| archive.by_index(i).unwrap().name().unwrap().into_owned())
        .collect()
}

fn entry(bundle: &Path, name: &str) -> Vec<u8> {
    let mut archive = zip::ZipArchive::new(std::fs::File::open(bundle).unwrap()).unwrap();
    let mut out = Vec::new();
    archive
        .by_name(name)
        .unwrap()
        .read_to_end(&mut out)
        .unwrap();
    out
}

/// A copy of `bundle` with one byte changed inside the first occurrence of
/// `needle` (a stored entry's bytes appear verbatim in the zip).
fn flip_inside(bundle: &Path, needle: &[u8], to: &Path) {
    let mut bytes = std::fs::read(bundle).unwrap();
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("the needle is in the zip");
    bytes[at + needle.len() / 2] ^= 0x01;
    std::fs::write(to, bytes).unwrap();
}

fn export_args<'a>(app: &'a TestApp, out: &'a str) -> Vec<&'a str> {
    vec![
        "export",
        "--database",
        &app.database_url,
        "--storage",
        &app.storage_url,
        "--audit-key",
        app.audit_key.to_str().unwrap(),
        "--matter",
        "Doe v. Acme",
        "-o",
        out,
    ]
}

#[tokio::test]
async fn a_cli_bundle_verifies_and_a_changed_byte_anywhere_in_a_file_is_caught() {
    let app = spawn_app().await;
    // A play first, so the bundle carries an audit entry of conversation A.
    let viewer = app.logged_in(VIEWER_101).await;
    let r = viewer
        .get(app.url(&format!("/audio/conversation/{CONV_A}")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("bundle.zip");
    let mut args = export_args(&app, bundle.to_str().unwrap());
    args.extend(["--extension", "101"]);
    let out = callvault(&args, None);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("exported 1 conversations"),
        "{}",
        text(&out)
    );

    let listed = names(&bundle);
    for expected in [
        format!("conversations/{CONV_A}/stitched.mp3"),
        format!("conversations/{CONV_A}/legs/{REC_A1}.mp3"),
        format!("conversations/{CONV_A}/legs/{REC_A2}.mp3"),
        format!("conversations/{CONV_A}/metadata.json"),
        format!("conversations/{CONV_A}/chapters.vtt"),
        "metadata.csv".into(),
        "audit.jsonl".into(),
        "custody.json".into(),
        "manifest.jsonl".into(),
        "manifest.sig".into(),
    ] {
        assert!(
            listed.contains(&expected),
            "{expected} missing from {listed:?}"
        );
    }
    assert!(!listed.iter().any(|n| n.contains(CONV_B)), "{listed:?}");
    let custody: serde_json::Value =
        serde_json::from_slice(&entry(&bundle, "custody.json")).unwrap();
    assert_eq!(custody["matter"], "Doe v. Acme");
    assert_eq!(custody["exported_by"], "cli:auditor");
    assert_eq!(custody["query"]["extension"], "101");
    let audit = String::from_utf8(entry(&bundle, "audit.jsonl")).unwrap();
    assert!(audit.contains("\\\"action\\\":\\\"play\\\""), "{audit}");
    let csv = String::from_utf8(entry(&bundle, "metadata.csv")).unwrap();
    assert!(csv.contains("Dana Caller"), "{csv}");
    assert_eq!(
        csv.lines().count(),
        4,
        "a header, the stitched file and two legs: {csv}"
    );
    // The recording's bytes are the stored ones.
    let leg = entry(
        &bundle,
        &format!("conversations/{CONV_A}/legs/{REC_A1}.mp3"),
    );
    let rec = app
        .catalog
        .recording(&vault::RecordingId::parse(REC_A1).unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(leg.len() as u64, rec.size.unwrap());

    let public = app.audit_key.with_extension("key.pub");
    let verify = |path: &Path| {
        callvault(
            &[
                "export",
                "verify",
                path.to_str().unwrap(),
                "--public-key",
                public.to_str().unwrap(),
            ],
            None,
        )
    };
    let out = verify(&bundle);
    assert!(out.status.success(), "{}", text(&out));

    // One changed byte inside the audio, the CSV, the custody record, the
    // manifest or the signature: each is caught.
    let tampered = dir.path().join("tampered.zip");
    for needle in [
        &leg[200..264],
        b"Dana Caller",
        b"Doe v. Acme",
        b"\"sha256\":\"",
        &[],
    ] {
        let needle: &[u8] = if needle.is_empty() {
            // The signature's hex, from the end of the zip's data.
            let sig = entry(&bundle, "manifest.sig");
            flip_inside(&bundle, &sig[..32], &tampered);
            let out = verify(&tampered);
            assert!(!out.status.success(), "a changed signature went unnoticed");
            continue;
        } else {
            needle
        };
        flip_inside(&bundle, needle, &tampered);
        let out = verify(&tampered);
        assert!(
            !out.status.success(),
            "a change in {:?} went unnoticed",
            String::from_utf8_lossy(needle)
        );
        assert!(
            text(&out).contains("FAULT") || text(&out).contains("error"),
            "{}",
            text(&out)
        );
    }
    // The export is on the audit trail.
    let entries = app.catalog.audit_entries(10, 0).await.unwrap();
    assert!(
        entries.iter().any(|e| e.action == "export"
            && e.object_id == "Doe v. Acme"
            && e.user_name == "cli:auditor"),
        "{entries:?}"
    );
}

async fn web_export_streams_a_verifiable_bundle(app: &TestApp) {
    let admin = app.logged_in(ADMIN).await;
    let csrf = form_csrf(&admin, &app.url("/audit")).await;
    // Without the session's CSRF token: refused.
    let r = admin
        .post(app.url("/export"))
        .form(&[("matter", "m1"), ("csrf", "nope")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A viewer may not export.
    let viewer = app.logged_in(VIEWER_101).await;
    let r = viewer
        .post(app.url("/export"))
        .form(&[("matter", "m1"), ("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert!(matches!(r.status().as_u16(), 403 | 404), "{}", r.status());

    let r = admin
        .post(app.url("/export"))
        .form(&[
            ("matter", "Matter 7"),
            ("csrf", csrf.as_str()),
            ("direction", "Outbound"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/zip");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("callvault-export-Matter_7.zip")
    );
    let dir = tempfile::tempdir().unwrap();
    let bundle = dir.path().join("web.zip");
    std::fs::write(&bundle, r.bytes().await.unwrap()).unwrap();
    let report = verify_bundle(&bundle, &public_key(app)).unwrap();
    assert!(report.is_intact(), "{report:?}");
    let listed = names(&bundle);
    assert!(
        listed.contains(&format!("conversations/{CONV_B}/legs/{REC_B}.mp3")),
        "{listed:?}"
    );
    assert!(!listed.iter().any(|n| n.contains(CONV_A)), "{listed:?}");
    let custody: serde_json::Value =
        serde_json::from_slice(&entry(&bundle, "custody.json")).unwrap();
    assert_eq!(custody["exported_by"], ADMIN.0);
    let entries = app.catalog.audit_entries(20, 0).await.unwrap();
    assert!(
        entries
            .iter()
            .any(|e| e.action == "export" && e.object_id == "Matter 7" && e.user_name == ADMIN.0),
        "{entries:?}"
    );
}

#[tokio::test]
async fn an_admin_exports_from_the_web_as_a_streamed_verifiable_zip() {
    let app = spawn_app().await;
    web_export_streams_a_verifiable_bundle(&app).await;
}

#[tokio::test]
async fn on_postgresql_an_admin_exports_from_the_web() {
    let Some(app) = spawn_app_postgres().await else {
        return;
    };
    web_export_streams_a_verifiable_bundle(&app).await;
    app.finish().await;
}
