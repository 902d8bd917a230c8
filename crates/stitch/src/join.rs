//! The joiner's entry points: reads each leg once (hash, sniff), asks the
//! planner for a path, hands the legs to that path's writer and builds the
//! manifest from where the writer placed them.

use std::collections::BTreeMap;
use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::error::Error;
use crate::layout::{InputFacts, LegMeta, gaps_ms, manifest_legs, units_to_ms};
use crate::manifest::{JoinPath, Manifest};
use crate::options::{JoinOptions, Leg};
use crate::plan::{Input, Plan, plan, sniff};
use crate::sink::{FrameSink, HashSink, Tee, WriteSink};
use crate::write::{self, Prepared, Written};

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

/// Joins `legs` into any [`FrameSink`] (file, hasher, test buffer).
pub fn join_into<R: Read + Seek + Send + Sync, S: FrameSink + ?Sized>(
    legs: Vec<Leg<R>>,
    options: &JoinOptions,
    sink: &mut S,
) -> Result<Manifest, Error> {
    let metas: Vec<LegMeta> = legs.iter().map(LegMeta::of).collect();
    let mut facts = BTreeMap::new();
    let mut present = Vec::new();
    for (index, leg) in legs.into_iter().enumerate() {
        let Some(mut reader) = leg.reader else {
            continue;
        };
        let sha256 = if options.hash_inputs {
            Some(sha256_of(&mut reader).map_err(|e| e.in_leg(index))?)
        } else {
            None
        };
        let (input, reader) = sniff(reader).map_err(|e| e.in_leg(index))?;
        let (frames, junk) = match &input {
            Input::Mp3(s) => (Some(s.frames), Some(s.junk)),
            Input::Wav(_) => (None, None),
        };
        facts.insert(
            index,
            InputFacts {
                sha256,
                format: input.format().to_string(),
                frames,
                junk,
            },
        );
        present.push((index, reader, input));
    }
    let formats: Vec<_> = present.iter().map(|(_, _, input)| input.format()).collect();
    let plan = plan(&formats, options.format)?;
    let indexes: Vec<usize> = present.iter().map(|(index, _, _)| *index).collect();
    let prepared: Vec<Prepared<R>> = present
        .into_iter()
        .zip(gaps_ms(options.gaps, &metas, &indexes))
        .map(|((index, reader, input), gap_ms)| Prepared {
            index,
            reader,
            input,
            gap_ms,
        })
        .collect();

    let mut hash = HashSink::new();
    let mut tee = Tee(&mut *sink, &mut hash);
    let (path, written) = match &plan {
        Plan::LosslessMp3 => (
            JoinPath::LosslessMp3,
            write::lossless_mp3(prepared, &metas, options, &mut tee)?,
        ),
        Plan::LosslessWav => (
            JoinPath::LosslessWav,
            write::lossless_wav(prepared, &mut tee)?,
        ),
        Plan::Reencode { target, .. } => (
            JoinPath::Reencode,
            write::reencoded(prepared, *target, &metas, options, &mut tee)?,
        ),
    };
    tee.finish()?;

    let Written {
        rate,
        channels,
        placements,
        content_type,
    } = written;
    let unit_rate = u64::from(rate);
    let legs = manifest_legs(&metas, &placements, unit_rate, &mut facts);
    let duration_ms = placements
        .last()
        .map_or(0, |p| units_to_ms(p.start + p.len, unit_rate));
    Ok(Manifest {
        path,
        reason: plan.reason(),
        content_type: content_type.to_string(),
        sample_rate: rate,
        channels,
        duration_ms,
        output_sha256: hash.hex(),
        output_bytes: hash.len(),
        legs,
    })
}
