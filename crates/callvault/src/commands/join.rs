//! `callvault join FILE... -o OUT`: the joiner on local files, in the given
//! order, for users who already have the legs.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

/// Output container of a join or stitch.
#[derive(Debug, Clone, Copy, Default, ValueEnum)]
pub enum FormatArg {
    /// Lossless when the legs allow it, else MP3.
    #[default]
    Auto,
    /// MP3 (lossless for compatible MP3 legs, re-encoded otherwise).
    Mp3,
    /// WAV (lossless for compatible WAV legs, 16-bit PCM otherwise).
    Wav,
    /// FLAC (always re-encoded: mono 16-bit, lossless from there; chapters as Vorbis comments).
    Flac,
}

impl From<FormatArg> for stitch::OutputFormat {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Auto => Self::Auto,
            FormatArg::Mp3 => Self::Mp3,
            FormatArg::Wav => Self::Wav,
            FormatArg::Flac => Self::Flac,
        }
    }
}

/// Arguments of `callvault join`.
#[derive(Debug, Args)]
pub struct JoinArgs {
    /// The legs, in playing order.
    #[arg(required = true, num_args = 1..)]
    pub files: Vec<PathBuf>,
    /// Where the joined file goes (written atomically).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Output container.
    #[arg(long, value_enum, default_value_t)]
    pub format: FormatArg,
    /// fsync the output before it takes its final name, so it also survives a
    /// power cut. Without it the write is still atomic against a crash or an
    /// error (temporary file + rename), as with `ffmpeg` or `cp`; the fsync is
    /// most of a lossless join's wall time.
    #[arg(long)]
    pub fsync: bool,
}

/// Joins the files and writes `OUT`, `OUT.json` (manifest) and `OUT.vtt` (chapters).
pub fn run(args: JoinArgs) -> anyhow::Result<()> {
    let options = stitch::JoinOptions {
        format: args.format.into(),
        durable: args.fsync,
        ..Default::default()
    };
    let manifest = stitch::join_files(&args.files, &args.output, &options).with_context(|| {
        format!(
            "joining {} files into {}",
            args.files.len(),
            args.output.display()
        )
    })?;
    let json = args.output.with_extension("json");
    let vtt = args.output.with_extension("vtt");
    std::fs::write(&json, manifest.to_json())
        .with_context(|| format!("writing {}", json.display()))?;
    std::fs::write(&vtt, manifest.webvtt())
        .with_context(|| format!("writing {}", vtt.display()))?;
    println!(
        "{}: {} legs, {} ms, {:?} ({}), sha256 {}",
        args.output.display(),
        manifest.legs.len(),
        manifest.duration_ms,
        manifest.path,
        manifest.content_type,
        manifest.output_sha256
    );
    Ok(())
}
