//! The joiner must never panic, whatever the second leg holds.
#![no_main]

use std::io::Cursor;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let legs = vec![stitch::Leg::new("a", "A", Cursor::new(data.to_vec()))];
    let options = stitch::JoinOptions { hash_inputs: false, ..Default::default() };
    let _ = stitch::join(legs, &options, &mut Vec::new());
});
