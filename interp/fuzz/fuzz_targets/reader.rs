//! The reader on arbitrary text: it returns data or a read error, never
//! panics; `parse_number` (behind `string->number`) likewise, for every
//! radix.
#![no_main]

use libfuzzer_sys::fuzz_target;
use marrow_interp::reader::{parse_number, Reader};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data).into_owned();
    let radix = data.first().map_or(10, |&b| u32::from(b) % 40);
    // The reader recurses up to its nesting limit: give it the stack the
    // `marrow` binary gives it.
    std::thread::Builder::new()
        .stack_size(256 << 20)
        .spawn(move || {
            let chars: Vec<char> = text.chars().collect();
            let _ = Reader::new(&chars, 0).read_all();
            let _ = parse_number(&text, radix);
        })
        .expect("thread")
        .join()
        .expect("the reader panicked");
});
