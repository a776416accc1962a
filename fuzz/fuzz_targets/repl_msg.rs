//! Fuzz the replication messages (`anyedge_node::overlay::repl`): any bytes
//! decode without a panic, and whatever decodes encodes back to a message
//! that decodes to the same thing (a backup never misreads a record).
#![no_main]

use anyedge_node::overlay::repl::Msg;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(m) = Msg::decode(data) {
        if let Some(b) = m.encode() {
            assert_eq!(Msg::decode(&b), Some(m));
        }
    }
    let _ = anyedge_tcp::Snapshot::decode(data);
});
