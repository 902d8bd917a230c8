//! Real audio made in the test: LAME-encoded MP3 legs, WAV legs, decoding and tone detection.

use std::f64::consts::PI;
use std::io::Cursor;

use mp3lame_encoder::{
    Bitrate, Builder, FlushGap, InterleavedPcm, Mode, MonoPcm, Quality, VbrMode,
};
use stitch::mp3::reader::Mp3Reader;

/// A sine tone, mono, 16-bit, at half scale.
pub fn tone(rate: u32, hz: f64, secs: f64) -> Vec<i16> {
    let n = (rate as f64 * secs) as usize;
    (0..n)
        .map(|i| ((2.0 * PI * hz * i as f64 / rate as f64).sin() * 12_000.0) as i16)
        .collect()
}

/// How to encode a test MP3.
#[derive(Clone, Copy)]
pub struct Mp3Spec {
    pub rate: u32,
    pub channels: u8,
    pub kbps: Option<Bitrate>,
    pub info_tag: bool,
}

impl std::fmt::Debug for Mp3Spec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} Hz {} ch {:?} kbps tag={}",
            self.rate,
            self.channels,
            self.kbps.map(|k| k as u16),
            self.info_tag
        )
    }
}

impl Mp3Spec {
    pub fn cbr(rate: u32, channels: u8, kbps: Bitrate) -> Self {
        Mp3Spec {
            rate,
            channels,
            kbps: Some(kbps),
            info_tag: true,
        }
    }
    pub fn vbr(rate: u32, channels: u8) -> Self {
        Mp3Spec {
            rate,
            channels,
            kbps: None,
            info_tag: true,
        }
    }
    pub fn without_tag(mut self) -> Self {
        self.info_tag = false;
        self
    }
}

/// Encodes `pcm` (mono) with LAME 3.100; for stereo the tone is in both channels.
/// With `info_tag` the LAME Info/Xing frame is spliced in as LAME intends.
pub fn mp3(spec: Mp3Spec, pcm: &[i16]) -> Vec<u8> {
    let mut b = Builder::new().unwrap();
    b.set_num_channels(spec.channels).unwrap();
    b.set_sample_rate(spec.rate).unwrap();
    b.set_output_sample_rate(std::num::NonZeroU32::new(spec.rate))
        .unwrap();
    b.set_mode(if spec.channels == 1 {
        Mode::Mono
    } else {
        Mode::JointStereo
    })
    .unwrap();
    match spec.kbps {
        Some(k) => b.set_brate(k).unwrap(),
        None => {
            b.set_vbr_mode(VbrMode::Mtrh).unwrap();
            b.set_vbr_quality(Quality::Decent).unwrap();
        }
    }
    b.set_quality(Quality::Good).unwrap();
    b.set_to_write_vbr_tag(spec.info_tag).unwrap();
    let mut enc = b.build().unwrap();
    let mut out = Vec::new();
    for chunk in pcm.chunks(4096) {
        out.reserve(mp3lame_encoder::max_required_buffer_size(chunk.len() * 2));
        if spec.channels == 1 {
            enc.encode_to_vec(MonoPcm(chunk), &mut out).unwrap();
        } else {
            let inter: Vec<i16> = chunk.iter().flat_map(|s| [*s, *s]).collect();
            enc.encode_to_vec(InterleavedPcm(inter.as_slice()), &mut out)
                .unwrap();
        }
    }
    out.reserve(7200);
    enc.flush_to_vec::<FlushGap>(&mut out).unwrap();
    if spec.info_tag {
        let mut tag = Vec::with_capacity(enc.lame_tag_size().max(1) + 16);
        if let Some(n) = enc.lame_tag_encode_to_vec(&mut tag) {
            out[..n.get()].copy_from_slice(&tag[..n.get()]);
        }
    }
    out
}

/// A padded ID3v2.3 tag with one TIT2 frame.
pub fn id3v2_padded(title: &str, padding: usize) -> Vec<u8> {
    let mut frame = b"TIT2".to_vec();
    let body_len = 1 + title.len();
    frame.extend_from_slice(&(body_len as u32).to_be_bytes());
    frame.extend_from_slice(&[0, 0, 0]);
    frame.extend_from_slice(title.as_bytes());
    frame.extend(std::iter::repeat_n(0u8, padding));
    let size = frame.len() as u32;
    let mut tag = b"ID3\x03\x00\x00".to_vec();
    tag.extend_from_slice(&[
        (size >> 21) as u8 & 0x7F,
        (size >> 14) as u8 & 0x7F,
        (size >> 7) as u8 & 0x7F,
        size as u8 & 0x7F,
    ]);
    tag.extend(frame);
    tag
}

/// A 128-byte ID3v1 tag.
pub fn id3v1(title: &str) -> Vec<u8> {
    let mut t = vec![0u8; 128];
    t[..3].copy_from_slice(b"TAG");
    t[3..3 + title.len()].copy_from_slice(title.as_bytes());
    t
}

/// A WAV file written by hound: mono 16-bit PCM.
pub fn wav_pcm16(rate: u32, pcm: &[i16]) -> Vec<u8> {
    let mut cur = Cursor::new(Vec::new());
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: rate,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::new(&mut cur, spec).unwrap();
    for s in pcm {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
    cur.into_inner()
}

/// G.711 mu-law encoding of one sample.
pub fn mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = (s + BIAS).min(32_635 + BIAS);
    let mut exp = 7;
    let mut mask = 0x4000;
    while exp > 0 && s & mask == 0 {
        exp -= 1;
        mask >>= 1;
    }
    let mant = (s >> (exp + 3)) & 0x0F;
    !((sign | (exp << 4) | mant) as u8)
}

/// A mu-law WAV (format tag 7) with a LIST chunk before the data, as some PBXes write.
pub fn wav_mulaw(rate: u32, pcm: &[i16]) -> Vec<u8> {
    let data: Vec<u8> = pcm.iter().map(|s| mulaw(*s)).collect();
    let mut w = b"RIFF\0\0\0\0WAVEfmt ".to_vec();
    w.extend_from_slice(&18u32.to_le_bytes());
    w.extend_from_slice(&7u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&rate.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8u16.to_le_bytes());
    w.extend_from_slice(&0u16.to_le_bytes());
    w.extend_from_slice(b"LIST\x0e\x00\x00\x00INFOINAM\x02\x00\x00\x00x\x00");
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(data.len() as u32).to_le_bytes());
    w.extend_from_slice(&data);
    if data.len() % 2 == 1 {
        w.push(0);
    }
    let riff = (w.len() - 8) as u32;
    w[4..8].copy_from_slice(&riff.to_le_bytes());
    w
}

/// Decodes with symphonia (gapless on): mono samples and the rate.
pub fn decode(bytes: &[u8]) -> (Vec<f32>, u32) {
    let mut all = Vec::new();
    let stats = stitch::decode::decode_mono(Cursor::new(bytes.to_vec()), |_, b| {
        all.extend_from_slice(b);
        Ok(())
    })
    .expect("decodes without error");
    (all, stats.sample_rate)
}

/// Audio frames of an MP3 (the Info frame excluded) and its Info tag.
pub fn frames_and_tag(
    bytes: &[u8],
) -> (u64, Option<stitch::mp3::xing::InfoTag>, Vec<(u64, usize)>) {
    let mut r = Mp3Reader::new(Cursor::new(bytes)).unwrap();
    let mut offsets = Vec::new();
    while let Some(f) = r.next_frame().unwrap() {
        offsets.push((f.offset, f.data.len()));
    }
    (r.frames_read(), r.info_tag().cloned(), offsets)
}

/// Goertzel power of `hz` in `x`.
pub fn goertzel(x: &[f32], rate: u32, hz: f64) -> f64 {
    let w = 2.0 * PI * hz / rate as f64;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for v in x {
        let s = f64::from(*v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}

/// Which of `tones` dominates the window of `x` centred at `at_ms`.
pub fn dominant(x: &[f32], rate: u32, at_ms: u64, tones: &[f64]) -> f64 {
    let centre = (at_ms * u64::from(rate) / 1000) as usize;
    let half = rate as usize / 10;
    let w = &x[centre.saturating_sub(half)..(centre + half).min(x.len())];
    let mut best = (0.0, -1.0);
    for t in tones {
        let p = goertzel(w, rate, *t);
        if p > best.1 {
            best = (*t, p);
        }
    }
    best.0
}
