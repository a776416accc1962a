//! Sans-IO TCP (RFC 9293), for the anyedge engine.
//!
//! Nothing here reads a clock, touches a socket or draws a random number:
//! time comes in as integer nanoseconds and randomness as seeds (DESIGN.md
//! section 2). That is what lets tests script segment exchanges, the
//! simulator run long transfers in virtual time, and the fuzzer drive any
//! sequence of segments.
//!
//! - [`seq`]: sequence-number arithmetic;
//! - [`rtt`]: the retransmission timer (RFC 6298);
//! - [`cc`]: congestion control, Reno and CUBIC behind one trait;
//! - [`buffer`]: the send buffer and the receive buffer with reassembly;
//! - [`conn`]: one connection's state machine;
//! - [`table`]: the per-core connection table, listeners, ISNs and the
//!   answers to segments that match no connection.
#![forbid(unsafe_code)]

pub mod buffer;
pub mod cc;
pub mod conn;
pub mod resume;
pub mod rtt;
pub mod seq;
pub mod table;

pub use conn::{Conn, ConnConfig, EarlyOutcome, Event, Segment, Snapshot, State};
pub use seq::Seq;
