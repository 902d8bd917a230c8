//! Rendered recordings are real audio files: symphonia decodes them, they
//! last as long as the recording, and their tones name the recording.

mod audio_support;

use audio_support::{decode, recording};
use rc_sandbox::audio::{AudioSettings, WavEncoding, detect_markers, render};
use rc_sandbox::model::AudioFormat;

fn mp3(sample_rate: u32, kbps: u32) -> AudioSettings {
    AudioSettings {
        format: AudioFormat::Mp3,
        sample_rate,
        mp3_bitrate_kbps: kbps,
        ..AudioSettings::default()
    }
}

fn wav(encoding: WavEncoding) -> AudioSettings {
    AudioSettings {
        format: AudioFormat::Wav,
        wav_encoding: encoding,
        ..AudioSettings::default()
    }
}

/// One MP3 frame in ms at `rate` (1152 samples for MPEG-1, else 576).
fn frame_ms(rate: u32) -> f64 {
    let spf = if rate >= 32000 { 1152.0 } else { 576.0 };
    spf * 1000.0 / rate as f64
}

#[test]
fn the_default_mp3_is_8khz_mono_mpeg25_without_a_lame_tag_and_lasts_its_duration() {
    let rec = recording(4711, 47_300);
    let bytes = render(&AudioSettings::default(), &rec);
    // MPEG-2.5 Layer III, 16 kbit/s, 8 kHz, mono: 144-byte frames, no Info tag.
    assert_eq!(&bytes[..4], &[0xFF, 0xE3, 0x28, 0xC4]);
    assert_eq!(bytes.len() % 144, 0);
    assert!(!bytes.windows(4).any(|w| w == b"Info" || w == b"Xing"));
    let d = decode(&bytes);
    assert_eq!(d.rate, 8000);
    assert!(
        (d.duration_ms() - 47_300.0).abs() <= frame_ms(8000),
        "{} ms",
        d.duration_ms()
    );
    assert_eq!(detect_markers(&d.pcm, d.rate), vec![4711]);
}

#[test]
fn mp3s_at_every_telephony_and_wideband_rate_decode_to_their_marker_and_duration() {
    for (rate, kbps) in [
        (8000, 8),
        (8000, 32),
        (11025, 24),
        (16000, 32),
        (16000, 48),
        (44100, 64),
    ] {
        let rec = recording(90_210 + rate, 31_000);
        let bytes = render(&mp3(rate, kbps), &rec);
        let d = decode(&bytes);
        assert_eq!(d.rate, rate);
        assert!(
            (d.duration_ms() - 31_000.0).abs() <= frame_ms(rate),
            "{rate} Hz {kbps} kbit/s: {} ms",
            d.duration_ms()
        );
        assert_eq!(
            detect_markers(&d.pcm, d.rate),
            vec![rec.marker],
            "{rate} Hz {kbps} kbit/s"
        );
    }
}

#[test]
fn an_mp3_with_room_for_it_carries_lames_info_tag_and_decodes_to_the_exact_length() {
    let rec = recording(31, 40_000);
    let bytes = render(&mp3(8000, 32), &rec);
    // The first frame is the tag frame: MPEG-2.5 mono, Info at offset 4 + 9.
    assert_eq!(&bytes[13..17], b"Info");
    assert_eq!(&bytes[13 + 120..13 + 124], b"LAME");
    let d = decode(&bytes);
    // Gapless decoding trims LAME's delay and padding: exactly 40 s.
    assert_eq!(d.pcm.len(), 320_000);
}

#[test]
fn a_vbr_mp3_carries_a_xing_tag_and_its_marker() {
    let settings = AudioSettings {
        vbr: true,
        vbr_quality: 7,
        ..AudioSettings::default()
    };
    let rec = recording(2_024_112_500, 35_000);
    let bytes = render(&settings, &rec);
    assert_eq!(&bytes[13..17], b"Xing");
    let d = decode(&bytes);
    assert_eq!(d.pcm.len(), 280_000);
    assert_eq!(detect_markers(&d.pcm, d.rate), vec![rec.marker]);
}

#[test]
fn pcm_and_mulaw_wavs_decode_to_the_exact_length_and_their_marker() {
    for (enc, tag) in [(WavEncoding::Pcm16, 1u16), (WavEncoding::MuLaw, 7)] {
        let rec = recording(1_100_220, 33_333);
        let bytes = render(&wav(enc), &rec);
        assert_eq!(&bytes[..4], b"RIFF");
        assert_eq!(u16::from_le_bytes([bytes[20], bytes[21]]), tag);
        let d = decode(&bytes);
        assert_eq!(d.rate, 8000);
        assert_eq!(d.pcm.len(), 266_664);
        assert_eq!(detect_markers(&d.pcm, d.rate), vec![1_100_220], "{enc:?}");
    }
}

#[test]
fn three_decoded_recordings_joined_give_three_markers_in_order() {
    for settings in [AudioSettings::default(), wav(WavEncoding::MuLaw)] {
        let mut pcm = Vec::new();
        let mut rate = 0;
        for (marker, ms) in [(7, 31_000), (700_007, 65_000), (12, 30_500)] {
            let d = decode(&render(&settings, &recording(marker, ms)));
            rate = d.rate;
            pcm.extend(d.pcm);
        }
        assert_eq!(
            detect_markers(&pcm, rate),
            vec![7, 700_007, 12],
            "{settings:?}"
        );
    }
}

#[test]
fn three_untagged_mp3s_joined_frame_by_frame_give_three_markers_in_order() {
    // What a stitcher's fast path does with tag-less legs: append the frames.
    let mut joined = Vec::new();
    for (marker, ms) in [(31_337, 30_000), (8, 42_000), (31_337, 30_000)] {
        joined.extend_from_slice(&render(&AudioSettings::default(), &recording(marker, ms)));
    }
    let d = decode(&joined);
    assert_eq!(detect_markers(&d.pcm, d.rate), vec![31_337, 8, 31_337]);
}

#[test]
fn rendering_is_deterministic_and_markers_change_the_bytes() {
    for settings in [
        AudioSettings::default(),
        mp3(8000, 32),
        wav(WavEncoding::Pcm16),
    ] {
        let a = render(&settings, &recording(5, 30_000));
        let b = render(&settings, &recording(5, 30_000));
        let c = render(&settings, &recording(6, 30_000));
        assert_eq!(a, b);
        assert_ne!(a, c);
    }
}

#[test]
fn a_long_mp3_built_from_repeated_frames_decodes_cleanly_to_the_end() {
    // 100 s: long enough for the frame-repeating path (7.5 periods + 2).
    for settings in [AudioSettings::default(), mp3(8000, 32)] {
        let rec = recording(123_456_789, 100_000);
        let bytes = render(&settings, &rec);
        let d = decode(&bytes);
        assert!(
            (d.duration_ms() - 100_000.0).abs() <= frame_ms(8000),
            "{settings:?}: {} ms",
            d.duration_ms()
        );
        // Each 10 s period announces the marker: the last 15 s alone do too.
        let tail = &d.pcm[d.pcm.len() - 15 * 8000..];
        assert_eq!(detect_markers(tail, d.rate), vec![123_456_789]);
    }
}
