use mp3lame_encoder::Bitrate;
use stitch::{Error, JoinOptions, OutputFormat, join_files};

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

/// A WAV whose codec tag is not one symphonia decodes (0x1234): it passes the
/// sniffer, is not copyable, so it fails only while the re-encode is writing.
fn wav_with_unknown_codec() -> Vec<u8> {
    let mut w = wav_pcm16(8000, &tone(8000, 300.0, 0.5));
    // fmt chunk body starts at byte 20: the format tag is its first u16.
    w[20..22].copy_from_slice(&0x1234u16.to_le_bytes());
    w
}

#[test]
fn a_leg_that_fails_mid_reencode_names_its_leg_and_leaves_nothing_for_every_format() {
    let a = mp3(
        Mp3Spec::cbr(8000, 1, Bitrate::Kbps32),
        &tone(8000, 440.0, 2.0),
    );
    let b = mp3(
        Mp3Spec::cbr(16_000, 1, Bitrate::Kbps48),
        &tone(16_000, 1000.0, 2.0),
    );
    for format in [OutputFormat::Mp3, OutputFormat::Wav, OutputFormat::Flac] {
        let dir = tempfile::tempdir().unwrap();
        let paths: Vec<_> = [&a, &b, &wav_with_unknown_codec()]
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let p = dir.path().join(format!("leg{i}"));
                std::fs::write(&p, bytes).unwrap();
                p
            })
            .collect();
        let out = dir.path().join("call.out");
        let options = JoinOptions {
            format,
            ..Default::default()
        };
        let err = join_files(&paths, &out, &options).unwrap_err();
        assert_eq!(err.leg_index(), Some(2), "{format:?}: {err}");
        assert!(
            matches!(err.cause(), Error::Decode(_)),
            "{format:?}: {err:?}"
        );
        let left = std::fs::read_dir(dir.path()).unwrap().count();
        assert_eq!(left, 3, "{format:?}: only the three inputs remain");
    }
}

#[test]
fn mixed_8k_16k_44k_files_join_through_the_reencode_path_into_a_playable_file() {
    let dir = tempfile::tempdir().unwrap();
    let specs = [
        (Mp3Spec::cbr(8000, 1, Bitrate::Kbps32), 8000, 440.0),
        (Mp3Spec::cbr(16_000, 1, Bitrate::Kbps48), 16_000, 1000.0),
        (Mp3Spec::cbr(44_100, 2, Bitrate::Kbps64), 44_100, 1750.0),
    ];
    let paths: Vec<_> = specs
        .iter()
        .enumerate()
        .map(|(i, (spec, rate, hz))| {
            let p = dir.path().join(format!("leg{i}.mp3"));
            std::fs::write(&p, mp3(*spec, &tone(*rate, *hz, 1.5))).unwrap();
            p
        })
        .collect();
    let out = dir.path().join("call.mp3");
    let m = join_files(&paths, &out, &JoinOptions::default()).unwrap();
    assert_eq!(m.path, stitch::JoinPath::Reencode);
    let bytes = std::fs::read(&out).unwrap();
    let mut hash = stitch::HashSink::new();
    stitch::FrameSink::write_bytes(&mut hash, &bytes).unwrap();
    assert_eq!(
        m.output_sha256,
        hash.hex(),
        "the manifest hashes the file as written"
    );
    let (pcm, rate) = decode(&bytes);
    assert_eq!(rate, 16_000);
    let secs = pcm.len() as f64 / f64::from(rate);
    assert!((secs - 4.5).abs() < 3.0 * 1152.0 / 16_000.0, "{secs} s");
    for (leg, (_, _, hz)) in m.legs.iter().zip(&specs) {
        let mid = (leg.start_ms + leg.end_ms) / 2;
        assert_eq!(dominant(&pcm, rate, mid, &[440.0, 1000.0, 1750.0]), *hz);
    }
}
