//! The joiner: sniffs each leg, picks a path (lossless MP3, lossless WAV or
//! re-encode), lays out gaps and chapters, writes the output and the manifest.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::chapters::{ChapterMark, id3_chapter_tag};
use crate::error::{Error, describe, malformed};
use crate::flac;
use crate::manifest::{JoinPath, Manifest, ManifestLeg};
use crate::mp3::join::{self as mp3join, Mp3Part, Mp3Scan};
use crate::options::{Gaps, JoinOptions, Leg, OutputFormat};
use crate::reencode::{self, DecodeLeg, Target};
use crate::sink::{FrameSink, HashSink, SinkWriter, Tee, WriteSink};
use crate::wav::WavFormat;
use crate::wav::{self, WavInfo};

/// What the sniffer found in a leg.
#[derive(Debug, Clone)]
pub(crate) enum Input {
    Mp3(Box<Mp3Scan>),
    Wav(WavInfo),
}

impl Input {
    fn describe(&self) -> String {
        match self {
            Input::Mp3(s) => describe(s.format),
            Input::Wav(w) => describe(w.format),
        }
    }
}

/// A leg after the first pass.
struct Prepared<R> {
    index: usize,
    reader: R,
    input: Input,
    sha256: Option<String>,
    start_ms: Option<i64>,
}

/// Where a present leg landed in the output, in samples at the output rate.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Placement {
    pub index: usize,
    pub gap: u64,
    pub start: u64,
    pub len: u64,
}

fn sha256_of<R: Read + Seek>(r: &mut R) -> Result<String, Error> {
    r.seek(SeekFrom::Start(0))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match r.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.into()),
        };
        h.update(buf.get(..n).unwrap_or_default());
    }
    r.seek(SeekFrom::Start(0))?;
    Ok(hex::encode(h.finalize()))
}

/// Sniffs the bytes (never the name) and runs the format's first pass.
fn prepare<R: Read + Seek>(mut reader: R) -> Result<(Input, R), Error> {
    let len = reader.seek(SeekFrom::End(0))?;
    reader.seek(SeekFrom::Start(0))?;
    if len == 0 {
        return malformed("input is empty", 0);
    }
    let mut head = [0u8; 12];
    let n = usize::try_from(len.min(12)).unwrap_or(12);
    reader.read_exact(head.get_mut(..n).unwrap_or_default())?;
    reader.seek(SeekFrom::Start(0))?;
    if &head[..4] == b"RIFF" {
        let info = wav::read_wav_info(&mut reader)?;
        reader.seek(SeekFrom::Start(0))?;
        return Ok((Input::Wav(info), reader));
    }
    let (scan, reader) = mp3join::scan(reader)?;
    Ok((Input::Mp3(Box::new(scan)), reader))
}

/// Real-time gap before leg `start_ms`, after the previous present leg's end.
fn gap_ms(gaps: Gaps, prev_end: Option<i64>, start: Option<i64>) -> u64 {
    match (gaps, prev_end, start) {
        (Gaps::Real { cap_ms }, Some(end), Some(start)) => u64::try_from(start.saturating_sub(end))
            .unwrap_or(0)
            .min(cap_ms),
        _ => 0,
    }
}

fn units_to_ms(units: u64, units_per_second: u64) -> u64 {
    let ms = u128::from(units) * 1000 / u128::from(units_per_second.max(1));
    u64::try_from(ms).unwrap_or(u64::MAX)
}

fn ms_to_units(ms: u64, units_per_second: u64) -> u64 {
    let u = (u128::from(ms) * u128::from(units_per_second) + 500) / 1000;
    u64::try_from(u).unwrap_or(u64::MAX)
}

/// Joins `legs` in order into `out` and returns the manifest.
///
/// The inputs must be seekable (two passes: scan, then copy). Output is
/// buffered internally. On error, whatever was already written to `out` is
/// garbage: use [`join_to_path`] for an all-or-nothing file.
pub fn join<R: Read + Seek + Send + Sync, W: Write>(
    legs: Vec<Leg<R>>,
    options: &JoinOptions,
    out: &mut W,
) -> Result<Manifest, Error> {
    let mut sink = WriteSink(BufWriter::with_capacity(256 * 1024, out));
    let manifest = join_into(legs, options, &mut sink)?;
    sink.finish()?;
    Ok(manifest)
}

/// Joins `legs` into a file at `out_path`, atomically: the bytes go to a
/// temporary file in the same directory, which is renamed over `out_path` only
/// on success. On error nothing is left behind.
pub fn join_to_path<R: Read + Seek + Send + Sync>(
    legs: Vec<Leg<R>>,
    out_path: &Path,
    options: &JoinOptions,
) -> Result<Manifest, Error> {
    let dir = match out_path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".stitch-")
        .suffix(".part")
        .tempfile_in(dir)?;
    #[cfg(unix)]
    {
        // tempfile creates 0600 files; the joined file is ordinary output.
        use std::os::unix::fs::PermissionsExt;
        tmp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    let manifest = join(legs, options, tmp.as_file_mut())?;
    if options.durable {
        tmp.as_file().sync_all()?;
    }
    tmp.persist(out_path).map_err(|e| Error::Io(e.error))?;
    Ok(manifest)
}

/// Joins the files at `paths` (in order) into `out_path`, atomically. Each
/// leg's id is its file name and its chapter title `Leg N: <file name>`.
pub fn join_files<P: AsRef<Path>>(
    paths: &[P],
    out_path: &Path,
    options: &JoinOptions,
) -> Result<Manifest, Error> {
    let mut legs = Vec::with_capacity(paths.len());
    for (i, p) in paths.iter().enumerate() {
        let p = p.as_ref();
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = std::fs::File::open(p).map_err(|e| Error::Io(e).in_leg(i))?;
        legs.push(Leg::new(
            name.clone(),
            format!("Leg {}: {name}", i + 1),
            std::io::BufReader::new(file),
        ));
    }
    join_to_path(legs, out_path, options)
}

/// What the manifest says about a present leg, gathered before the readers move on.
struct LegInfo {
    sha256: Option<String>,
    format: String,
    frames: Option<u64>,
    junk: Option<u64>,
}

type Meta = (String, String, Option<i64>, Option<i64>);

/// Joins `legs` into any [`FrameSink`] (file, hasher, test buffer).
pub fn join_into<R: Read + Seek + Send + Sync, S: FrameSink + ?Sized>(
    legs: Vec<Leg<R>>,
    options: &JoinOptions,
    sink: &mut S,
) -> Result<Manifest, Error> {
    let mut metas: Vec<Meta> = Vec::with_capacity(legs.len());
    let mut prepared: Vec<Prepared<R>> = Vec::new();
    for (index, leg) in legs.into_iter().enumerate() {
        metas.push((leg.id, leg.label, leg.start_ms, leg.end_ms));
        let Some(mut reader) = leg.reader else {
            continue;
        };
        let sha256 = if options.hash_inputs {
            Some(sha256_of(&mut reader).map_err(|e| e.in_leg(index))?)
        } else {
            None
        };
        let (input, reader) = prepare(reader).map_err(|e| e.in_leg(index))?;
        prepared.push(Prepared {
            index,
            reader,
            input,
            sha256,
            start_ms: leg.start_ms,
        });
    }
    let first_desc = prepared
        .first()
        .ok_or(Error::NothingToJoin)?
        .input
        .describe();
    let mut infos = std::collections::BTreeMap::new();
    for p in &prepared {
        let (frames, junk) = match &p.input {
            Input::Mp3(s) => (Some(s.frames), Some(s.junk)),
            Input::Wav(_) => (None, None),
        };
        infos.insert(
            p.index,
            LegInfo {
                sha256: p.sha256.clone(),
                format: p.input.describe(),
                frames,
                junk,
            },
        );
    }

    // Real-time gaps before each present leg, in ms.
    let mut gaps = Vec::with_capacity(prepared.len());
    let mut prev_end: Option<i64> = None;
    for p in &prepared {
        gaps.push(if gaps.is_empty() {
            0
        } else {
            gap_ms(options.gaps, prev_end, p.start_ms)
        });
        prev_end = metas.get(p.index).and_then(|m| m.3);
    }

    let all_mp3_same = prepared.iter().all(|p| matches!(&p.input, Input::Mp3(_)))
        && prepared.iter().all(|p| p.input.describe() == first_desc);
    let all_wav_same = prepared
        .iter()
        .all(|p| matches!(&p.input, Input::Wav(w) if w.format.is_copyable()))
        && prepared.iter().all(|p| p.input.describe() == first_desc);
    let mismatch = prepared
        .iter()
        .map(|p| p.input.describe())
        .find(|d| *d != first_desc);

    let mut hash = HashSink::new();
    let mut tee = Tee(&mut *sink, &mut hash);
    let (path, reason, rate, channels, placements, content_type) =
        if all_mp3_same && matches!(options.format, OutputFormat::Auto | OutputFormat::Mp3) {
            let parts = prepared
                .into_iter()
                .zip(&gaps)
                .map(|(p, g)| match p.input {
                    Input::Mp3(scan) => {
                        let spf = u64::from(scan.first.samples_per_frame());
                        let gap_frames =
                            ms_to_units(*g, u64::from(scan.format.sample_rate)) / spf.max(1);
                        Ok(Mp3Part {
                            index: p.index,
                            reader: p.reader,
                            scan: *scan,
                            gap_frames,
                        })
                    }
                    Input::Wav(_) => Err(Error::Unsupported("internal: WAV leg on the MP3 path")),
                })
                .collect::<Result<Vec<_>, Error>>()?;
            let (rate, ch, placements) = write_mp3(parts, None, &metas, options, &mut tee)?;
            (
                JoinPath::LosslessMp3,
                "all legs are MP3 of one format".to_string(),
                rate,
                ch,
                placements,
                "audio/mpeg",
            )
        } else if all_wav_same && matches!(options.format, OutputFormat::Auto | OutputFormat::Wav) {
            let (rate, ch, placements) = lossless_wav(prepared, &gaps, &mut tee)?;
            (
                JoinPath::LosslessWav,
                "all legs are WAV of one format".to_string(),
                rate,
                ch,
                placements,
                "audio/wav",
            )
        } else {
            let reason = match mismatch {
                Some(other) => format!("legs differ: {first_desc} vs {other}"),
                None => format!(
                    "{:?} output requested from {first_desc} legs",
                    options.format
                ),
            };
            let target = match options.format {
                OutputFormat::Wav => Target::Wav,
                OutputFormat::Flac => Target::Flac,
                OutputFormat::Auto | OutputFormat::Mp3 => Target::Mp3,
            };
            let legs: Vec<DecodeLeg<R>> = prepared
                .into_iter()
                .zip(&gaps)
                .map(|(p, g)| DecodeLeg {
                    index: p.index,
                    reader: p.reader,
                    gap_ms: *g,
                    rate: input_rate(&p.input),
                })
                .collect();
            let encoded = reencode::encode(legs, target)?;
            let rate = encoded.rate;
            let placements = encoded.placements.clone();
            match target {
                Target::Mp3 => {
                    let (scan, file) = mp3join::scan(encoded.file)?;
                    let part = Mp3Part {
                        index: 0,
                        reader: file,
                        scan,
                        gap_frames: 0,
                    };
                    let sample_pl = Some((placements.clone(), encoded.delay, encoded.padding));
                    write_mp3(vec![part], sample_pl, &metas, options, &mut tee)?;
                    (
                        JoinPath::Reencode,
                        reason,
                        rate,
                        1,
                        placements,
                        "audio/mpeg",
                    )
                }
                Target::Wav => {
                    let mut file = encoded.file;
                    let len = file.seek(SeekFrom::End(0))?;
                    let format = WavFormat {
                        tag: wav::TAG_PCM,
                        channels: 1,
                        sample_rate: rate,
                        bits: 16,
                    };
                    tee.write_bytes(&wav::wav_header(&format, len)?)?;
                    let info = WavInfo {
                        format,
                        data_start: 0,
                        data_len: len,
                    };
                    wav::copy_data(&mut file, &info, &mut tee)?;
                    if len % 2 == 1 {
                        tee.write_bytes(&[0])?;
                    }
                    (JoinPath::Reencode, reason, rate, 1, placements, "audio/wav")
                }
                Target::Flac => {
                    let info = encoded
                        .flac
                        .ok_or(Error::Unsupported("internal: FLAC without STREAMINFO"))?;
                    let marks = if options.chapters {
                        chapter_marks(&metas, &placements, u64::from(rate))
                    } else {
                        Vec::new()
                    };
                    tee.write_bytes(&flac::header(&info, options.title.as_deref(), &marks)?)?;
                    let mut file = encoded.file;
                    std::io::copy(&mut file, &mut SinkWriter(&mut tee))?;
                    (
                        JoinPath::Reencode,
                        reason,
                        rate,
                        1,
                        placements,
                        "audio/flac",
                    )
                }
            }
        };
    tee.finish()?;

    let unit_rate = u64::from(rate);
    let legs = manifest_legs(&metas, &placements, unit_rate, &mut infos);
    let duration_ms = placements
        .last()
        .map_or(0, |p| units_to_ms(p.start + p.len, unit_rate));
    Ok(Manifest {
        path,
        reason,
        content_type: content_type.to_string(),
        sample_rate: rate,
        channels,
        duration_ms,
        output_sha256: hash.hex(),
        output_bytes: hash.len(),
        legs,
    })
}

fn input_rate(input: &Input) -> u32 {
    match input {
        Input::Mp3(s) => s.format.sample_rate,
        Input::Wav(w) => w.format.sample_rate,
    }
}

fn chapter_marks(metas: &[Meta], placements: &[Placement], unit_rate: u64) -> Vec<ChapterMark> {
    placements
        .iter()
        .map(|p| ChapterMark {
            element_id: format!("chp{}", p.index),
            title: metas.get(p.index).map(|m| m.1.clone()).unwrap_or_default(),
            start_ms: units_to_ms(p.start, unit_rate),
            end_ms: units_to_ms(p.start + p.len, unit_rate),
        })
        .collect()
}

/// Lossless MP3 writer, also used to wrap the re-encoded stream. With
/// `resampled = Some((placements, delay, padding))` the chapters come from
/// those sample placements and the LAME delay/padding are set explicitly.
fn write_mp3<R: Read + Seek, S: FrameSink + ?Sized>(
    mut parts: Vec<Mp3Part<R>>,
    resampled: Option<(Vec<Placement>, u16, u16)>,
    metas: &[Meta],
    options: &JoinOptions,
    sink: &mut S,
) -> Result<(u32, u8, Vec<Placement>), Error> {
    let first = parts.first().ok_or(Error::NothingToJoin)?;
    let rate = first.scan.format.sample_rate;
    let channels = first.scan.format.channels;
    let spf = u64::from(first.scan.first.samples_per_frame());
    let (placements, trim) = match resampled {
        Some((pl, d, p)) => (pl, Some((d, p))),
        None => {
            let mut cursor = 0u64;
            let mut pl = Vec::with_capacity(parts.len());
            for p in &parts {
                let gap = p.gap_frames * spf;
                let len = p.scan.frames * spf;
                pl.push(Placement {
                    index: p.index,
                    gap,
                    start: cursor + gap,
                    len,
                });
                cursor += gap + len;
            }
            (pl, None)
        }
    };
    let tag = if options.chapters {
        id3_chapter_tag(
            options.title.as_deref(),
            &chapter_marks(metas, &placements, u64::from(rate)),
        )?
    } else {
        Vec::new()
    };
    let layout = mp3join::layout(&parts)?;
    mp3join::write(&mut parts, &layout, &tag, trim, sink)?;
    Ok((rate, channels, placements))
}

fn lossless_wav<R: Read + Seek, S: FrameSink + ?Sized>(
    prepared: Vec<Prepared<R>>,
    gaps: &[u64],
    sink: &mut S,
) -> Result<(u32, u8, Vec<Placement>), Error> {
    let mut parts = Vec::with_capacity(prepared.len());
    for p in prepared {
        if let Input::Wav(info) = p.input {
            parts.push((p.index, p.reader, info));
        }
    }
    let format = parts
        .first()
        .map(|p| p.2.format)
        .ok_or(Error::NothingToJoin)?;
    let rate = u64::from(format.sample_rate);
    let align = format.block_align();
    let mut placements = Vec::with_capacity(parts.len());
    let mut cursor = 0u64;
    for ((index, _, info), g) in parts.iter().zip(gaps) {
        let gap = ms_to_units(*g, rate);
        placements.push(Placement {
            index: *index,
            gap,
            start: cursor + gap,
            len: info.frames(),
        });
        cursor += gap + info.frames();
    }
    let data_len = cursor.saturating_mul(align);
    sink.write_bytes(&wav::wav_header(&format, data_len)?)?;
    for ((index, reader, info), pl) in parts.iter_mut().zip(&placements) {
        wav::write_silence(&format, pl.gap * align, sink)?;
        wav::copy_data(reader, info, sink).map_err(|e| e.in_leg(*index))?;
    }
    if data_len % 2 == 1 {
        sink.write_bytes(&[0])?;
    }
    let channels = u8::try_from(format.channels).unwrap_or(u8::MAX);
    Ok((format.sample_rate, channels, placements))
}

fn manifest_legs(
    metas: &[Meta],
    placements: &[Placement],
    unit_rate: u64,
    infos: &mut std::collections::BTreeMap<usize, LegInfo>,
) -> Vec<ManifestLeg> {
    let mut out = Vec::with_capacity(metas.len());
    let mut cursor_ms = 0u64;
    for (index, (id, label, _, _)) in metas.iter().enumerate() {
        let placed = placements.iter().find(|p| p.index == index);
        let info = infos.remove(&index);
        let (start_ms, end_ms, gap_before_ms) = match placed {
            Some(p) => (
                units_to_ms(p.start, unit_rate),
                units_to_ms(p.start + p.len, unit_rate),
                units_to_ms(p.start, unit_rate)
                    .saturating_sub(units_to_ms(p.start - p.gap, unit_rate)),
            ),
            None => (cursor_ms, cursor_ms, 0),
        };
        cursor_ms = end_ms;
        out.push(ManifestLeg {
            index,
            id: id.clone(),
            label: label.clone(),
            missing: placed.is_none(),
            start_ms,
            end_ms,
            gap_before_ms,
            input_sha256: info.as_ref().and_then(|i| i.sha256.clone()),
            input_format: info.as_ref().map(|i| i.format.clone()),
            frames: info.as_ref().and_then(|i| i.frames),
            junk_bytes: info.as_ref().and_then(|i| i.junk),
        });
    }
    out
}
