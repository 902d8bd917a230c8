use mp3lame_encoder::Bitrate;
use stitch::{Error, JoinOptions, join_files};

use crate::helpers::*;

fn good() -> Vec<u8> {
    mp3(
        Mp3Spec::cbr(8000, 1, Bitrate::Kbps32),
        &tone(8000, 440.0, 1.0),
    )
}

#[test]
fn each_bad_input_gets_an_error_naming_its_leg_and_leaves_no_file() {
    let valid = good();
    let mut garbage_after_header = valid[..4].to_vec();
    garbage_after_header
        .extend((0..200_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8 & 0x7F));
    let mut wav_garbage = b"RIFF\x00\x01\x00\x00WAVE".to_vec();
    wav_garbage.extend_from_slice(&[0xAB; 64]);
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        ("empty", Vec::new(), "input is empty"),
        (
            "truncated",
            valid[..valid.len() - 100].to_vec(),
            "mp3: truncated frame",
        ),
        (
            "text",
            b"this is not audio at all, just words\n".repeat(3000),
            "mp3:",
        ),
        ("garbage after a valid header", garbage_after_header, "mp3:"),
        ("wav garbage", wav_garbage, "wav:"),
    ];
    for (name, bytes, message) in cases {
        let dir = tempfile::tempdir().unwrap();
        let leg0 = dir.path().join("leg0.mp3");
        let leg1 = dir.path().join("leg1.mp3");
        std::fs::write(&leg0, &valid).unwrap();
        std::fs::write(&leg1, &bytes).unwrap();
        let out = dir.path().join("out.mp3");
        let err = join_files(&[&leg0, &leg1], &out, &JoinOptions::default()).unwrap_err();
        assert_eq!(err.leg_index(), Some(1), "{name}: {err}");
        assert!(err.to_string().starts_with("leg 1: "), "{name}: {err}");
        assert!(err.to_string().contains(message), "{name}: {err}");
        assert!(
            matches!(err.cause(), Error::Malformed { .. }),
            "{name}: {err:?}"
        );
        let left: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(
            left.len(),
            2,
            "{name}: only the inputs remain, found {left:?}"
        );
    }
}

#[test]
fn a_successful_join_files_writes_the_output_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let a = dir.path().join("a.bin");
    let b = dir.path().join("b.bin");
    std::fs::write(&a, good()).unwrap();
    std::fs::write(&b, good()).unwrap();
    let out = dir.path().join("call.mp3");
    let m = join_files(&[&a, &b], &out, &JoinOptions::default()).unwrap();
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(m.output_bytes, bytes.len() as u64);
    assert_eq!(m.legs[0].label, "Leg 1: a.bin");
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 3);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o644, "an ordinary file, not tempfile's 0600");
    }
}

#[test]
fn no_legs_with_audio_is_an_error() {
    let legs: Vec<stitch::Leg<std::io::Cursor<Vec<u8>>>> = vec![stitch::Leg::missing("x", "X")];
    let err = stitch::join(legs, &JoinOptions::default(), &mut Vec::new()).unwrap_err();
    assert!(matches!(err, Error::NothingToJoin));
}
