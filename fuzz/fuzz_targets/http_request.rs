//! Fuzz `anyedge_http`: any bytes are parsed as a request head without a
//! panic, and a complete head is planned and answered against fixed objects
//! with consistent chunks and an exact Content-Length (see `fuzz_one`).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    anyedge_http::fuzz_one(data);
});
