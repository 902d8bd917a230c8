use proptest::prelude::*;

use super::*;

#[test]
fn every_id_shape_in_the_published_payloads_parses() {
    for s in [
        "401786818008",
        "IaDUlfiF_23aKtI",
        "IWvNToLkbo-7zUA",
        "X2A9BbIj3GrNQA",
        "s-a0d178729c49dz1876d9b9d11z19269ec0000",
        "p-a4a0d812557c5z1803a3eee14z97f6290000-1",
        "cs171841903434018384-2",
        "Y3MxNzE4NDE5MDM0MzQwMTgzODRAMTAuNjIuMjUuMTEx",
        // base64 of `cs1718419034340183841@10.62.25.111`: padded.
        "Y3MxNzE4NDE5MDM0MzQwMTgzODQxQDEwLjYyLjI1LjExMQ==",
        "dd2f0ff2-580e-4581-a277-76f9c9a54bc9",
    ] {
        let id = RecordingId::parse(s).unwrap();
        assert_eq!(id.as_str(), s);
        assert_eq!(id.to_string(), s);
    }
}

#[test]
fn invalid_ids_are_refused_with_their_kind() {
    let long = "a".repeat(MAX_ID_LEN + 1);
    let cases: &[(&str, IdError)] = &[
        ("", IdError::Empty),
        (
            &long,
            IdError::TooLong {
                len: MAX_ID_LEN + 1,
                max: MAX_ID_LEN,
            },
        ),
        ("..", IdError::BadChar { index: 0 }),
        ("../x", IdError::BadChar { index: 0 }),
        ("/abs", IdError::BadChar { index: 0 }),
        ("abc/def", IdError::BadChar { index: 3 }),
        ("a\\b", IdError::BadChar { index: 1 }),
        ("a.b", IdError::BadChar { index: 1 }),
        ("a b", IdError::BadChar { index: 1 }),
        ("abc%2F", IdError::BadChar { index: 3 }),
        ("~", IdError::BadChar { index: 0 }),
        ("abc\n", IdError::BadChar { index: 3 }),
        ("abc\0", IdError::BadChar { index: 3 }),
        ("\u{7f}", IdError::BadChar { index: 0 }),
        ("é", IdError::BadChar { index: 0 }),
        ("a+b=", IdError::BadChar { index: 1 }),
    ];
    for (input, want) in cases {
        assert_eq!(
            TelephonySessionId::parse(input).unwrap_err(),
            *want,
            "{input:?}"
        );
    }
}

#[test]
fn ids_deserialize_through_the_validating_constructor() {
    let ok: CallRecordId = serde_json::from_str("\"IyQAmlV2ORKZzUA\"").unwrap();
    assert_eq!(ok.as_str(), "IyQAmlV2ORKZzUA");
    assert!(serde_json::from_str::<CallRecordId>("\"../../etc\"").is_err());
    assert!(serde_json::from_str::<CallRecordId>("\"\"").is_err());
    assert_eq!(serde_json::to_string(&ok).unwrap(), "\"IyQAmlV2ORKZzUA\"");
}

#[test]
fn debug_names_the_kind() {
    let id = RecordingId::parse("401786818008").unwrap();
    assert_eq!(format!("{id:?}"), "RecordingId(\"401786818008\")");
}

#[test]
fn numeric_extension_ids_become_strings() {
    assert_eq!(
        ExtensionId::from_number(404350835008).as_str(),
        "404350835008"
    );
}

proptest! {
    #[test]
    fn parse_and_display_round_trip(s in "[A-Za-z0-9_=-]{1,128}") {
        let id = SubscriptionId::parse(&s).unwrap();
        prop_assert_eq!(id.as_str(), s.as_str());
        prop_assert_eq!(id.to_string().parse::<SubscriptionId>().unwrap(), id);
    }

    #[test]
    fn a_string_with_a_separator_or_dot_never_parses(
        head in "[A-Za-z0-9_=-]{0,20}",
        bad in "[/\\\\. %~\\x00-\\x1f]",
        tail in "[A-Za-z0-9_=-]{0,20}",
    ) {
        let s = format!("{head}{bad}{tail}");
        prop_assert_eq!(
            RecordingId::parse(&s).unwrap_err(),
            IdError::BadChar { index: head.len() }
        );
    }
}
