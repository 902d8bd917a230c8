//! Deterministic recording audio: MP3 or WAV whose tones identify the
//! recording (its marker), so tests can tell legs apart by ear.
//!
//! STUB — to be completed by the audio owner.
