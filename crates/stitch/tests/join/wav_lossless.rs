use std::io::Cursor;

use stitch::wav::read_wav_info;
use stitch::{Gaps, JoinOptions, JoinPath, Leg, join};

use crate::helpers::*;

#[test]
fn pcm16_wav_legs_are_joined_sample_for_sample() {
    let a = tone(8000, 440.0, 1.0);
    let b = tone(8000, 1000.0, 0.5);
    let legs = vec![
        Leg::new("a", "A", Cursor::new(wav_pcm16(8000, &a))),
        Leg::new("b", "B", Cursor::new(wav_pcm16(8000, &b))),
    ];
    let mut out = Vec::new();
    let m = join(legs, &JoinOptions::default(), &mut out).unwrap();
    assert_eq!(m.path, JoinPath::LosslessWav);
    assert_eq!(m.content_type, "audio/wav");
    let mut r = hound::WavReader::new(Cursor::new(&out)).unwrap();
    let got: Vec<i16> = r.samples::<i16>().map(|s| s.unwrap()).collect();
    let want: Vec<i16> = a.iter().chain(&b).copied().collect();
    assert_eq!(got, want);
    assert_eq!(m.legs[1].start_ms, 1000);
    assert_eq!(m.legs[1].end_ms, 1500);
    assert_eq!(decode(&out).0.len(), 12_000);
}

#[test]
fn mulaw_wav_legs_stay_mulaw_and_real_gaps_are_mulaw_silence() {
    let a = tone(8000, 440.0, 1.0);
    let b = tone(8000, 1000.0, 1.0);
    let fa = wav_mulaw(8000, &a);
    let fb = wav_mulaw(8000, &b);
    let legs = vec![
        Leg::new("a", "A", Cursor::new(fa)).with_times(0, 1000),
        Leg::new("b", "B", Cursor::new(fb)).with_times(1500, 2500),
    ];
    let mut out = Vec::new();
    let options = JoinOptions {
        gaps: Gaps::Real { cap_ms: 600_000 },
        ..Default::default()
    };
    let m = join(legs, &options, &mut out).unwrap();
    assert_eq!(m.path, JoinPath::LosslessWav);
    let info = read_wav_info(&mut Cursor::new(&out)).unwrap();
    assert_eq!(info.format.tag, 7);
    assert_eq!(info.data_len, 8000 + 4000 + 8000);
    let data = &out[info.data_start as usize..][..info.data_len as usize];
    assert!(
        data[8000..12_000].iter().all(|b| *b == 0xFF),
        "gap is mu-law zero"
    );
    assert_eq!(m.legs[1].gap_before_ms, 500);
    let (pcm, rate) = decode(&out);
    assert_eq!(rate, 8000);
    assert_eq!(pcm.len(), 20_000);
    assert_eq!(dominant(&pcm, 8000, 500, &[440.0, 1000.0]), 440.0);
    assert_eq!(dominant(&pcm, 8000, 2000, &[440.0, 1000.0]), 1000.0);
    assert!(pcm[9000..11_000].iter().all(|s| s.abs() < 1e-3));
}

#[test]
fn different_wav_formats_are_reencoded() {
    let a = wav_pcm16(8000, &tone(8000, 440.0, 1.0));
    let b = wav_mulaw(8000, &tone(8000, 1000.0, 1.0));
    let legs = vec![
        Leg::new("a", "A", Cursor::new(a)),
        Leg::new("b", "B", Cursor::new(b)),
    ];
    let mut out = Vec::new();
    let options = stitch::JoinOptions {
        format: stitch::OutputFormat::Wav,
        ..Default::default()
    };
    let m = join(legs, &options, &mut out).unwrap();
    assert_eq!(m.path, JoinPath::Reencode);
    assert!(
        m.reason.contains("pcm16") && m.reason.contains("mu-law"),
        "{}",
        m.reason
    );
    let (pcm, _) = decode(&out);
    assert_eq!(pcm.len(), 16_000);
    assert_eq!(dominant(&pcm, 8000, 1500, &[440.0, 1000.0]), 1000.0);
}
