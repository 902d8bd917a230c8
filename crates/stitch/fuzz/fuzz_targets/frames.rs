//! The frame reader and the WAV chunk parser must never panic on any bytes.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() >= 4 {
        let word = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        if let Ok(h) = stitch::mp3::header::parse_frame_header(word) {
            assert_eq!(h.to_word(), word);
        }
    }
    if let Ok(mut r) = stitch::mp3::reader::Mp3Reader::new(Cursor::new(data)) {
        while let Ok(Some(_)) = r.next_frame() {}
    }
    let _ = stitch::wav::read_wav_info(&mut Cursor::new(data));
});
