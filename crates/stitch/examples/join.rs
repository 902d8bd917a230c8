//! `cargo run --release -p stitch --example join -- OUT LEG...`: joins local
//! files with default options and writes OUT, OUT.json and OUT.vtt. Used for
//! whole-process timings and peak-RSS measurements (`/usr/bin/time -v`).

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let out = args.next().ok_or("usage: join OUT LEG...")?;
    let legs: Vec<String> = args.collect();
    let manifest = stitch::join_files(&legs, out.as_ref(), &stitch::JoinOptions::default())?;
    std::fs::write(format!("{out}.json"), manifest.to_json())?;
    std::fs::write(format!("{out}.vtt"), manifest.webvtt())?;
    println!(
        "{:?}: {} ms, {} bytes, sha256 {}",
        manifest.path, manifest.duration_ms, manifest.output_bytes, manifest.output_sha256
    );
    Ok(())
}
