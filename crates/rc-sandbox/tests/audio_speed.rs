//! Render-time check for long recordings. Run in release:
//! `cargo test --release -p rc-sandbox --test audio_speed -- --ignored --nocapture`.

mod audio_support;

use std::time::{Duration, Instant};

use audio_support::recording;
use rc_sandbox::audio::{AudioSettings, WavEncoding, render};
use rc_sandbox::model::AudioFormat;

fn timed(settings: &AudioSettings, minutes: u64) -> Duration {
    let rec = recording(987_654_321, minutes * 60_000);
    let t = Instant::now();
    let bytes = render(settings, &rec);
    let took = t.elapsed();
    println!(
        "{:>3} min {:?} {} Hz {} kbit/s vbr={} {:?}: {} bytes in {:.3} s",
        minutes,
        settings.format,
        settings.sample_rate,
        settings.mp3_bitrate_kbps,
        settings.vbr,
        settings.wav_encoding,
        bytes.len(),
        took.as_secs_f64()
    );
    took
}

#[test]
#[ignore]
fn long_recordings_render_in_well_under_a_few_seconds() {
    let mp3 = AudioSettings::default();
    let mp3_tagged = AudioSettings {
        mp3_bitrate_kbps: 32,
        ..AudioSettings::default()
    };
    let vbr = AudioSettings {
        vbr: true,
        ..AudioSettings::default()
    };
    let wide = AudioSettings {
        sample_rate: 44_100,
        mp3_bitrate_kbps: 64,
        ..AudioSettings::default()
    };
    let wav = AudioSettings {
        format: AudioFormat::Wav,
        ..AudioSettings::default()
    };
    let mulaw = AudioSettings {
        format: AudioFormat::Wav,
        wav_encoding: WavEncoding::MuLaw,
        ..AudioSettings::default()
    };
    for s in [&mp3, &mp3_tagged, &vbr, &wide, &wav, &mulaw] {
        for minutes in [10, 60] {
            let took = timed(s, minutes);
            assert!(
                took < Duration::from_secs(3),
                "{s:?} {minutes} min took {took:?}"
            );
        }
    }
}
