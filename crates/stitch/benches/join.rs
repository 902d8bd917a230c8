//! Lossless join vs a plain byte copy, and re-encode throughput.
//!
//! `cargo bench -p stitch --bench join` (release). Legs are LAME-encoded
//! 8 kHz mono 32 kbps MP3 (MPEG-2.5), `STITCH_BENCH_LEGS` of them (default 4),
//! `STITCH_BENCH_MINUTES` long each (default 10). Set `STITCH_BENCH_KEEP=dir`
//! to keep the generated legs (for `/usr/bin/time -v` runs of the example).

use std::f64::consts::PI;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality};
use stitch::{JoinOptions, join_files};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A speech-like signal: a gliding tone with a syllable-rate envelope.
fn signal(rate: u32, secs: u64, seed: f64) -> Vec<i16> {
    let n = (u64::from(rate) * secs) as usize;
    let mut phase = 0.0f64;
    (0..n)
        .map(|i| {
            let t = i as f64 / f64::from(rate);
            let f = 300.0 + 200.0 * (2.0 * PI * 0.3 * t + seed).sin();
            phase += 2.0 * PI * f / f64::from(rate);
            let env = 0.5 + 0.5 * (2.0 * PI * 4.0 * t).sin();
            (phase.sin() * env * 9000.0) as i16
        })
        .collect()
}

fn encode(rate: u32, kbps: Bitrate, pcm: &[i16]) -> Vec<u8> {
    let mut b = Builder::new().unwrap();
    b.set_num_channels(1).unwrap();
    b.set_sample_rate(rate).unwrap();
    b.set_output_sample_rate(std::num::NonZeroU32::new(rate))
        .unwrap();
    b.set_mode(Mode::Mono).unwrap();
    b.set_brate(kbps).unwrap();
    b.set_quality(Quality::Good).unwrap();
    let mut enc = b.build().unwrap();
    let mut out = Vec::new();
    for c in pcm.chunks(8192) {
        out.reserve(mp3lame_encoder::max_required_buffer_size(c.len()));
        enc.encode_to_vec(MonoPcm(c), &mut out).unwrap();
    }
    out.reserve(7200);
    enc.flush_to_vec::<FlushGap>(&mut out).unwrap();
    let mut tag = Vec::with_capacity(enc.lame_tag_size().max(1));
    if let Some(n) = enc.lame_tag_encode_to_vec(&mut tag) {
        out[..n.get()].copy_from_slice(&tag[..n.get()]);
    }
    out
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time<F: FnMut()>(runs: usize, mut f: F) -> Duration {
    f(); // warm-up
    median(
        (0..runs)
            .map(|_| {
                let t = Instant::now();
                f();
                t.elapsed()
            })
            .collect(),
    )
}

fn cat(paths: &[PathBuf], out: &Path) {
    let mut o = std::fs::File::create(out).unwrap();
    for p in paths {
        std::io::copy(&mut std::fs::File::open(p).unwrap(), &mut o).unwrap();
    }
    o.flush().unwrap();
}

fn main() {
    let legs = env("STITCH_BENCH_LEGS", 4);
    let minutes = env("STITCH_BENCH_MINUTES", 10);
    let tmp = tempfile::tempdir().unwrap();
    let dir = std::env::var("STITCH_BENCH_KEEP")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tmp.path().to_path_buf());
    std::fs::create_dir_all(&dir).unwrap();
    let t = Instant::now();
    let pcm = signal(8000, minutes * 60, 0.0);
    let one = encode(8000, Bitrate::Kbps32, &pcm);
    let mut paths = Vec::new();
    for i in 0..legs {
        let p = dir.join(format!("leg{i:02}.mp3"));
        std::fs::write(&p, &one).unwrap();
        paths.push(p);
    }
    let total_mb = (one.len() as u64 * legs) as f64 / 1e6;
    println!(
        "generated {legs} × {minutes} min 8 kHz 32 kbps legs ({total_mb:.1} MB) in {:.1?}",
        t.elapsed()
    );

    let out = dir.join("out.mp3");
    let runs = 7;
    let copy = time(runs, || cat(&paths, &out));
    let hashed = time(runs, || {
        join_files(&paths, &out, &JoinOptions::default()).unwrap();
    });
    let fast = JoinOptions {
        durable: false,
        ..Default::default()
    };
    let no_fsync = time(runs, || {
        join_files(&paths, &out, &fast).unwrap();
    });
    let bare_options = JoinOptions {
        hash_inputs: false,
        ..fast.clone()
    };
    let bare = time(runs, || {
        join_files(&paths, &out, &bare_options).unwrap();
    });
    let ratio = |d: Duration| d.as_secs_f64() / copy.as_secs_f64();
    println!("byte copy (std::io::copy, {legs} files -> 1, no fsync): {copy:.2?}");
    println!(
        "lossless join_files, defaults (hash + fsync): {hashed:.2?} ({:.1}x the copy)",
        ratio(hashed)
    );
    println!(
        "lossless join_files, durable = false:         {no_fsync:.2?} ({:.1}x the copy)",
        ratio(no_fsync)
    );
    println!(
        "lossless join_files, no fsync, no input hash: {bare:.2?} ({:.1}x the copy)",
        ratio(bare)
    );

    // Re-encode: the same legs plus one 16 kHz leg force the fallback (→ 16 kHz mono 48 kbps).
    let wide = encode(16_000, Bitrate::Kbps48, &signal(16_000, minutes * 60, 1.0));
    let wide_path = dir.join("wide16k.mp3");
    std::fs::write(&wide_path, &wide).unwrap();
    let mut mixed = paths.clone();
    mixed.push(wide_path);
    let t = Instant::now();
    let m = join_files(&mixed, &out, &JoinOptions::default()).unwrap();
    let wall = t.elapsed();
    let audio_s = m.duration_ms as f64 / 1000.0;
    println!(
        "re-encode ({} legs, {:.0} s of audio → {:?} at {} Hz): {wall:.2?} = {:.0}× realtime",
        mixed.len(),
        audio_s,
        m.path,
        m.sample_rate,
        audio_s / wall.as_secs_f64()
    );
}
