use std::io::Cursor;

use mp3lame_encoder::Bitrate;
use proptest::prelude::*;
use stitch::mp3::header::parse_frame_header;
use stitch::mp3::reader::Mp3Reader;
use stitch::{JoinOptions, Leg, join};

use crate::helpers::*;

/// Case count: `default`, or `STITCH_PROPTEST_CASES` for a long (fuzz-like) run.
fn cases(default: u32) -> u32 {
    std::env::var("STITCH_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn walk(bytes: Vec<u8>) {
    if let Ok(mut r) = Mp3Reader::new(Cursor::new(bytes)) {
        while let Ok(Some(_)) = r.next_frame() {}
    }
}

fn sample() -> Vec<u8> {
    use std::sync::OnceLock;
    static S: OnceLock<Vec<u8>> = OnceLock::new();
    S.get_or_init(|| {
        let mut v = id3v2_padded("t", 20);
        v.extend(mp3(
            Mp3Spec::cbr(8000, 1, Bitrate::Kbps16),
            &tone(8000, 500.0, 0.3),
        ));
        v
    })
    .clone()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(256), ..ProptestConfig::default() })]

    #[test]
    fn parsing_a_header_and_rebuilding_it_is_the_identity(word in any::<u32>()) {
        if let Ok(h) = parse_frame_header(word) {
            prop_assert_eq!(h.to_word(), word);
            prop_assert_eq!(parse_frame_header(h.to_word()).unwrap(), h);
        }
    }

    #[test]
    fn reading_frames_and_writing_them_back_gives_the_audio_bytes_unchanged(
        padding in 0usize..3000,
        trailing_id3v1 in any::<bool>(),
        seconds in 1u32..4,
    ) {
        let audio = mp3(
            Mp3Spec::cbr(8000, 1, Bitrate::Kbps16),
            &tone(8000, 440.0, f64::from(seconds)),
        );
        let mut input = id3v2_padded("t", padding);
        input.extend(&audio);
        if trailing_id3v1 {
            input.extend(id3v1("t"));
        }
        let mut r = Mp3Reader::new(Cursor::new(input.clone())).unwrap();
        let span = r.span();
        let mut rewritten = Vec::new();
        let mut first = None;
        while let Some(f) = r.next_frame().unwrap() {
            first.get_or_insert(f.offset);
            rewritten.extend_from_slice(f.data);
        }
        prop_assert_eq!(r.silenced_frames(), 0);
        let first = usize::try_from(first.unwrap()).unwrap();
        let end = usize::try_from(span.end).unwrap();
        // Every byte between the Info frame (or the tag) and the trailing
        // tag comes back in order, and nothing else.
        prop_assert!(rewritten.as_slice() == &input[first..end], "frames differ from the input bytes");
        prop_assert_eq!(usize::try_from(span.start).unwrap(), input.len() - audio.len() - if trailing_id3v1 { 128 } else { 0 });
    }

    #[test]
    fn the_frame_reader_never_panics_on_random_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        walk(bytes);
    }

    #[test]
    fn the_frame_reader_never_panics_on_mutated_mp3(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..32), cut in any::<usize>()) {
        let mut v = sample();
        for (at, b) in edits {
            let n = v.len();
            v[at % n] = b;
        }
        v.truncate(cut % (v.len() + 1));
        walk(v);
    }

    #[test]
    fn the_wav_reader_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let mut v = b"RIFF\x00\x00\x00\x00WAVE".to_vec();
        v.extend(bytes);
        let _ = stitch::wav::read_wav_info(&mut Cursor::new(v));
    }

    #[test]
    fn join_never_panics_on_mutated_legs(edits in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..16)) {
        let mut v = sample();
        for (at, b) in edits {
            let n = v.len();
            v[at % n] = b;
        }
        let legs = vec![Leg::new("a", "A", Cursor::new(sample())), Leg::new("b", "B", Cursor::new(v))];
        let _ = join(legs, &JoinOptions { hash_inputs: false, ..Default::default() }, &mut Vec::new());
    }
}

/// A valid Layer III header word from proptest's choices (no CRC, like LAME writes).
fn header_word(version: u8, br: u8, sr: u8, pad: bool, mode: u8) -> u32 {
    let v = [0b00u32, 0b10, 0b11][usize::from(version % 3)];
    0xFFE0_0000
        | v << 19
        | 0b01 << 17
        | 1 << 16
        | u32::from(br % 14 + 1) << 12
        | u32::from(sr % 3) << 10
        | u32::from(pad) << 9
        | u32::from(mode % 4) << 6
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(128), ..ProptestConfig::default() })]

    #[test]
    fn frames_written_in_a_row_are_read_back_byte_for_byte(
        version in any::<u8>(), sr in any::<u8>(), mode in any::<u8>(),
        frames in proptest::collection::vec((any::<u8>(), any::<bool>(), any::<u8>()), 1..40),
    ) {
        let mut stream = Vec::new();
        let mut expected = Vec::new();
        for (br, pad, fill) in frames {
            let word = header_word(version, br, sr, pad, mode);
            let h = parse_frame_header(word).unwrap();
            let mut f = vec![fill; h.frame_len()];
            f[..4].copy_from_slice(&word.to_be_bytes());
            // main_data_begin = 0; a repeated fill byte cannot spell "Xing", "Info" or "VBRI".
            f[4..6].copy_from_slice(&[0, 0]);
            stream.extend_from_slice(&f);
            expected.push(f);
        }
        let mut r = Mp3Reader::new(Cursor::new(&stream)).unwrap();
        let mut got = Vec::new();
        while let Some(f) = r.next_frame().unwrap() {
            got.push(f.data.to_vec());
        }
        prop_assert_eq!(r.junk_bytes(), 0);
        prop_assert_eq!(got, expected);
    }
}
