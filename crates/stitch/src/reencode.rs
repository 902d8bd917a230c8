//! The fallback path for legs that cannot be joined losslessly: decode each leg
//! (symphonia), resample to one rate, mix to mono, encode (LAME for MP3, raw
//! 16-bit PCM for WAV, `flacenc` frames for FLAC) into a temporary file, leg by leg. Memory stays bounded:
//! only one decoded packet and the resampler's window are held at a time.
//!
//! The caller ([`crate::write::reencoded`]) wraps the temporary file: for MP3
//! it goes through the same writer as the lossless path (chapter tag + Info
//! frame with the LAME delay and padding computed here), for WAV it gets a
//! header, for FLAC the STREAMINFO and Vorbis comment blocks
//! ([`crate::flac::header`]).

use std::fs::File;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};

use mp3lame_encoder::{Bitrate, Builder, FlushGap, Mode, MonoPcm, Quality};

use crate::decode::decode_mono;
use crate::error::Error;
use crate::flac::{FlacFrames, StreamSummary};
use crate::layout::Placement;
use crate::plan::Target;
use crate::resample::Resampler;

/// One leg for the fallback.
pub(crate) struct DecodeLeg<R> {
    /// 0-based position in the caller's list.
    pub index: usize,
    /// The leg's bytes (any format symphonia decodes).
    pub reader: R,
    /// Silence before the leg.
    pub gap_ms: u64,
    /// The leg's own sample rate (for the output rate).
    pub rate: u32,
}

/// The encoded stream in a temporary file, and where each leg landed (in samples).
pub(crate) struct Encoded {
    /// The encoded stream, rewound.
    pub file: File,
    /// Output sample rate.
    pub rate: u32,
    /// Where each leg landed, in samples.
    pub placements: Vec<Placement>,
    /// LAME encoder delay (MP3 only).
    pub delay: u16,
    /// LAME encoder padding (MP3 only).
    pub padding: u16,
    /// The FLAC stream's summary (FLAC only).
    pub flac: Option<StreamSummary>,
}

/// The encoder delay LAME 3.100 adds in front of the audio (samples).
const LAME_DELAY: u64 = 576;

/// Output rate: the highest input rate capped at 16 kHz, raised to a rate MP3 supports.
pub(crate) fn target_rate(rates: impl Iterator<Item = u32>) -> u32 {
    let max = rates.max().unwrap_or(8000).min(16_000);
    [8000, 11_025, 12_000, 16_000]
        .into_iter()
        .find(|r| *r >= max)
        .unwrap_or(16_000)
}

/// An encoder of mono samples in [-1, 1] into a stream.
trait PcmOut {
    fn push(&mut self, samples: &[f32]) -> Result<(), Error>;
    /// Encodes what is buffered and flushes.
    fn finish(&mut self) -> Result<(), Error>;
}

/// The FLAC writer, keeping its summary for the header written in front.
struct FlacOut<W: Write> {
    frames: FlacFrames<W>,
    summary: Option<StreamSummary>,
}

impl<W: Write> PcmOut for FlacOut<W> {
    fn push(&mut self, samples: &[f32]) -> Result<(), Error> {
        self.frames.push(samples.iter().map(|s| to_i16(*s)))
    }
    fn finish(&mut self) -> Result<(), Error> {
        self.summary = Some(self.frames.finish()?);
        Ok(())
    }
}

struct WavOut<W: Write>(W);

impl<W: Write> PcmOut for WavOut<W> {
    fn push(&mut self, samples: &[f32]) -> Result<(), Error> {
        for s in samples {
            self.0.write_all(&to_i16(*s).to_le_bytes())?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), Error> {
        self.0.flush()?;
        Ok(())
    }
}

struct Mp3Out<W: Write> {
    enc: mp3lame_encoder::Encoder,
    out: W,
    pcm: Vec<i16>,
    buf: Vec<u8>,
}

fn to_i16(s: f32) -> i16 {
    (s.clamp(-1.0, 1.0) * 32767.0).round() as i16
}

impl<W: Write> PcmOut for Mp3Out<W> {
    fn push(&mut self, samples: &[f32]) -> Result<(), Error> {
        for chunk in samples.chunks(4096) {
            self.pcm.clear();
            self.pcm.extend(chunk.iter().map(|s| to_i16(*s)));
            self.buf.clear();
            // LAME writes only into spare capacity; a zero-capacity buffer overruns the heap.
            self.buf
                .reserve(mp3lame_encoder::max_required_buffer_size(self.pcm.len()));
            self.enc
                .encode_to_vec(MonoPcm(self.pcm.as_slice()), &mut self.buf)
                .map_err(|e| Error::Encode(format!("lame: {e:?}")))?;
            self.out.write_all(&self.buf)?;
        }
        Ok(())
    }
    fn finish(&mut self) -> Result<(), Error> {
        self.buf.clear();
        self.buf.reserve(7200);
        self.enc
            .flush_to_vec::<FlushGap>(&mut self.buf)
            .map_err(|e| Error::Encode(format!("lame: {e:?}")))?;
        self.out.write_all(&self.buf)?;
        self.out.flush()?;
        Ok(())
    }
}

fn lame(rate: u32) -> Result<mp3lame_encoder::Encoder, Error> {
    let e = |e: mp3lame_encoder::BuildError| Error::Encode(format!("lame: {e:?}"));
    let mut b = Builder::new().ok_or(Error::Encode("lame: cannot allocate".to_string()))?;
    b.set_num_channels(1).map_err(e)?;
    b.set_sample_rate(rate).map_err(e)?;
    b.set_output_sample_rate(std::num::NonZeroU32::new(rate))
        .map_err(e)?;
    b.set_mode(Mode::Mono).map_err(e)?;
    b.set_brate(if rate >= 16_000 {
        Bitrate::Kbps48
    } else {
        Bitrate::Kbps32
    })
    .map_err(e)?;
    b.set_quality(Quality::Good).map_err(e)?;
    b.set_to_write_vbr_tag(false).map_err(e)?;
    b.build().map_err(e)
}

/// Decodes, resamples and encodes every leg in order into a temporary file.
pub(crate) fn encode<R: Read + Seek + Send + Sync>(
    legs: Vec<DecodeLeg<R>>,
    target: Target,
) -> Result<Encoded, Error> {
    let rate = target_rate(legs.iter().map(|l| l.rate));
    let mut file = tempfile::tempfile()?;
    let writer = BufWriter::with_capacity(256 * 1024, &mut file);
    let (placements, total, flac) = match target {
        Target::Wav => {
            let (placements, total, _) = encode_legs(legs, rate, WavOut(writer))?;
            (placements, total, None)
        }
        Target::Mp3 => {
            let out = Mp3Out {
                enc: lame(rate)?,
                out: writer,
                pcm: Vec::new(),
                buf: Vec::new(),
            };
            let (placements, total, _) = encode_legs(legs, rate, out)?;
            (placements, total, None)
        }
        Target::Flac => {
            let out = FlacOut {
                frames: FlacFrames::new(rate, writer)?,
                summary: None,
            };
            let (placements, total, out) = encode_legs(legs, rate, out)?;
            (placements, total, out.summary)
        }
    };
    file.seek(SeekFrom::Start(0))?;
    let (delay, padding) = match target {
        Target::Wav | Target::Flac => (0, 0),
        Target::Mp3 => {
            // Frames are counted by the caller's scan; the padding is what the
            // whole frames hold beyond delay + samples. Computed from the file length
            // is not possible for CBR with padding bits, so count frames here.
            let frames = count_frames(&mut file)?;
            let spf = if rate >= 32_000 { 1152 } else { 576 };
            let padding = (frames * spf).saturating_sub(LAME_DELAY + total);
            (
                LAME_DELAY as u16,
                u16::try_from(padding.min(0x0FFF)).unwrap_or(0x0FFF),
            )
        }
    };
    file.seek(SeekFrom::Start(0))?;
    Ok(Encoded {
        file,
        rate,
        placements,
        delay,
        padding,
        flac,
    })
}

/// Pushes every leg, gap first, through `out` at `rate`, then finishes it.
/// Returns where each leg landed, the total length in samples, and `out`.
fn encode_legs<R: Read + Seek + Send + Sync, O: PcmOut>(
    legs: Vec<DecodeLeg<R>>,
    rate: u32,
    mut out: O,
) -> Result<(Vec<Placement>, u64, O), Error> {
    let mut placements = Vec::with_capacity(legs.len());
    let mut total: u64 = 0;
    let zeros = vec![0.0f32; 4096];
    let mut resampled = Vec::new();
    for leg in legs {
        let gap = (u128::from(leg.gap_ms) * u128::from(rate) / 1000) as u64;
        let mut left = gap;
        while left > 0 {
            let n = usize::try_from(left.min(4096)).unwrap_or(4096);
            out.push(zeros.get(..n).unwrap_or_default())?;
            left -= n as u64;
        }
        let mut resampler: Option<Resampler> = None;
        let index = leg.index;
        let mut reader = leg.reader;
        reader
            .seek(SeekFrom::Start(0))
            .map_err(|e| Error::Io(e).in_leg(index))?;
        decode_mono(reader, |in_rate, block| {
            let r = resampler.get_or_insert_with(|| Resampler::new(in_rate, rate));
            resampled.clear();
            r.process(block, &mut resampled);
            out.push(&resampled)
        })
        .map_err(|e| e.in_leg(index))?;
        let mut len = 0;
        if let Some(mut r) = resampler {
            resampled.clear();
            r.finish(&mut resampled);
            out.push(&resampled)?;
            len = r.produced();
        }
        placements.push(Placement {
            index,
            gap,
            start: total + gap,
            len,
        });
        total += gap + len;
    }
    out.finish()?;
    Ok((placements, total, out))
}

fn count_frames(file: &mut File) -> Result<u64, Error> {
    let mut r = crate::mp3::reader::Mp3Reader::new(&mut *file)?;
    while r.next_frame()?.is_some() {}
    Ok(r.frames_read())
}
