//! Anycast: the path-metrics table and the peer channel that let a node
//! take over a download another node of the site started (DESIGN.md, the
//! first half of the mission).

pub mod metrics;
pub mod peer;
pub mod shared;
