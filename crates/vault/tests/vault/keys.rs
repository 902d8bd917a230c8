use chrono::{TimeZone, Utc};
use proptest::prelude::*;
use vault::{
    BlobExt, CallRecordId, ConversationId, IdError, KeyError, KeyLayout, RecordingId, StorageKey,
    TelephonySessionId,
};

#[test]
fn ids_refuse_paths_unicode_empty_and_overlong_input_with_the_reason() {
    let long = "9".repeat(129);
    let cases: &[(&str, IdError)] = &[
        ("", IdError::Empty),
        ("../x", IdError::BadChar { index: 0 }),
        ("/abs", IdError::BadChar { index: 0 }),
        ("a/b", IdError::BadChar { index: 1 }),
        ("a.b", IdError::BadChar { index: 1 }),
        ("..", IdError::BadChar { index: 0 }),
        ("a\\b", IdError::BadChar { index: 1 }),
        ("12 34", IdError::BadChar { index: 2 }),
        ("abc\0", IdError::BadChar { index: 3 }),
        ("réc", IdError::BadChar { index: 1 }),
        ("%2e%2e", IdError::BadChar { index: 0 }),
        (&long, IdError::TooLong { len: 129, max: 128 }),
    ];
    for (input, expected) in cases {
        assert_eq!(
            RecordingId::parse(input).as_ref(),
            Err(expected),
            "{input:?}"
        );
        assert_eq!(
            TelephonySessionId::parse(input).as_ref(),
            Err(expected),
            "{input:?}"
        );
        assert_eq!(
            CallRecordId::parse(input).as_ref(),
            Err(expected),
            "{input:?}"
        );
    }
}

#[test]
fn ids_accept_the_shapes_ringcentral_sends() {
    for id in [
        "401786818008",
        "s-a0d178729c49dz1876d9b9d11z19269ec0000",
        "Y3MxNzE4NDE5MDM0MzQwMTgzODRAMTAuNjIuMjUuMTEx",
        "Y3MxNzE4MzU2NzgxNTM2MTY1NDhAMTAuNjIuMS4zMA==",
        "IWjLR9Vm5AWsUA",
    ] {
        assert_eq!(TelephonySessionId::parse(id).unwrap().as_str(), id);
    }
}

#[test]
fn ids_are_parsed_while_deserialising() {
    let ok: RecordingId = serde_json::from_str("\"401786818008\"").unwrap();
    assert_eq!(ok.to_string(), "401786818008");
    assert!(serde_json::from_str::<RecordingId>("\"../etc/passwd\"").is_err());
    assert_eq!(serde_json::to_string(&ok).unwrap(), "\"401786818008\"");
}

#[test]
fn bad_key_templates_are_refused_at_configuration_time() {
    let conv = vault::DEFAULT_CONVERSATION_TEMPLATE;
    let cases: &[(&str, KeyError)] = &[
        ("{yyyy}/../{recordingId}.{ext}", KeyError::BadSegment),
        ("/{recordingId}.{ext}", KeyError::BadSegment),
        ("a//{recordingId}.{ext}", KeyError::BadSegment),
        ("./{recordingId}.{ext}", KeyError::BadSegment),
        ("a..b/{recordingId}.{ext}", KeyError::BadSegment),
        (
            "{recordingId}",
            KeyError::Missing {
                what: "a final `.{ext}`",
            },
        ),
        (
            "{yyyy}/x.{ext}",
            KeyError::Missing {
                what: "{recordingId}",
            },
        ),
        (
            "{owner}/{recordingId}.{ext}",
            KeyError::UnknownPlaceholder {
                name: "owner".into(),
            },
        ),
        (
            "{conversationId}/{recordingId}.{ext}",
            KeyError::UnknownPlaceholder {
                name: "conversationId".into(),
            },
        ),
        (
            "{recordingId}.{ext",
            KeyError::UnbalancedBrace { index: 14 },
        ),
        (
            "{recordingId}}.{ext}",
            KeyError::UnbalancedBrace { index: 13 },
        ),
        ("é/{recordingId}.{ext}", KeyError::BadChar { index: 0 }),
        ("a b/{recordingId}.{ext}", KeyError::BadChar { index: 1 }),
        ("", KeyError::Empty),
    ];
    for (template, expected) in cases {
        assert_eq!(
            KeyLayout::new(template, conv).as_ref(),
            Err(expected),
            "{template:?}"
        );
    }
}

#[test]
fn a_custom_layout_renders_the_ids_and_the_date_it_names() {
    let layout = KeyLayout::new(
        "rec/{yyyy}-{mm}/{recordingId}.{ext}",
        "conv/{conversationId}.{ext}",
    )
    .unwrap();
    let date = Utc.with_ymd_and_hms(2025, 12, 31, 23, 0, 0).unwrap();
    let tsid = TelephonySessionId::parse("s-1").unwrap();
    let rec = RecordingId::parse("42").unwrap();
    assert_eq!(
        layout.recording(date, &tsid, &rec, BlobExt::Wav).as_str(),
        "rec/2025-12/42.wav"
    );
    let conv = ConversationId::from(tsid);
    assert_eq!(
        layout.conversation(date, &conv, BlobExt::Mp3).as_str(),
        "conv/s-1.mp3"
    );
    assert_eq!(
        StorageKey::for_conversation(date, &conv, BlobExt::Mp3).as_str(),
        "2025/12/31/s-1/s-1.stitched.mp3"
    );
}

#[test]
fn stored_keys_are_rechecked_when_read_back() {
    for bad in [
        "../x", "/abs", "a//b", "a/./b", "a/../b", "a/b/", "", "a b", "a\\b",
    ] {
        assert!(StorageKey::from_stored(bad).is_err(), "{bad:?}");
    }
    assert_eq!(
        StorageKey::from_stored("2026/01/02/s-1/9.mp3")
            .unwrap()
            .as_str(),
        "2026/01/02/s-1/9.mp3"
    );
}

#[test]
fn content_types_map_to_audio_extensions_and_nothing_else() {
    assert_eq!(
        BlobExt::for_audio_content_type("audio/mpeg"),
        Some(BlobExt::Mp3)
    );
    assert_eq!(
        BlobExt::for_audio_content_type("audio/x-wav; charset=x"),
        Some(BlobExt::Wav)
    );
    assert_eq!(BlobExt::for_audio_content_type("text/html"), None);
    assert_eq!(BlobExt::for_audio_content_type("application/json"), None);
}

proptest! {
    #[test]
    fn valid_ids_round_trip_through_display(id in "[A-Za-z0-9_=-]{1,128}") {
        let parsed = RecordingId::parse(&id).unwrap();
        prop_assert_eq!(parsed.to_string(), id.clone());
        let shown = parsed.to_string();
        prop_assert_eq!(RecordingId::parse(&shown).unwrap(), parsed);
    }

    #[test]
    fn any_text_either_fails_to_parse_or_is_path_safe(text in any::<String>()) {
        if let Ok(id) = RecordingId::parse(&text) {
            prop_assert!(!id.as_str().contains('/') && !id.as_str().contains('.'));
            prop_assert_eq!(id.as_str(), text.as_str());
        }
    }

    #[test]
    fn no_rendered_key_climbs_out_or_starts_at_the_root(
        tsid in "[A-Za-z0-9_=-]{1,128}",
        rec in "[A-Za-z0-9_=-]{1,128}",
        secs in -62_000_000_000i64..400_000_000_000i64,
        ext in prop::sample::select(vec![BlobExt::Mp3, BlobExt::Wav, BlobExt::Flac, BlobExt::Json]),
    ) {
        let date = Utc.timestamp_opt(secs, 0).unwrap();
        let tsid = TelephonySessionId::parse(&tsid).unwrap();
        let rec = RecordingId::parse(&rec).unwrap();
        for key in [
            StorageKey::for_recording(date, &tsid, &rec, ext),
            StorageKey::for_conversation(date, &ConversationId::from(tsid.clone()), ext),
        ] {
            let sidecar = StorageKey::sidecar_of(&key);
            for k in [&key, &sidecar] {
                prop_assert!(!k.as_str().contains(".."), "{}", k);
                prop_assert!(!k.as_str().starts_with('/'), "{}", k);
                prop_assert!(!k.as_str().contains("//"), "{}", k);
                prop_assert_eq!(StorageKey::from_stored(k.as_str()).unwrap(), k.clone());
            }
            prop_assert!(sidecar.as_str().ends_with(".json"));
        }
    }
}
