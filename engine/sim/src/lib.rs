//! A deterministic network simulator that runs the real node code.
//!
//! Devices ([`Device`]) are joined by [`link::Link`]s with delay, rate, a
//! bounded queue, and seeded loss, duplication and reordering. An anyedge node
//! ([`engine::EngineNode`]) is the real [`anyedge_node::Node`] on mem ports,
//! stepped in virtual time; the client [`host::Host`] and the
//! [`router::Router`] are the simulator's own small stacks. A scenario can
//! schedule a call on any device at any time, such as a route flip on the
//! router. The same seed gives the same run, frame for frame, so tests keep
//! their seeds and a 30-second download takes milliseconds.
#![forbid(unsafe_code)]

pub mod engine;
pub mod host;
pub mod link;
pub mod overlay;
pub mod replica;
pub mod router;
pub mod scenario;
pub mod takeover;
pub mod trace;

/// The HTTP download client and the neighbour table live in the node crate
/// (`anyedge get` uses them on a real port); the simulator's hosts use the same code.
pub use anyedge_node::client::{download, neigh};

use link::{Link, LinkParams, LinkStats};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// Something with ports that frames can be delivered to.
pub trait Device: Any {
    /// Name used in the trace.
    fn name(&self) -> &str;
    /// A frame arrives on `port` at `now`.
    fn deliver(&mut self, now: u64, port: usize, frame: &[u8]);
    /// Runs the device at `now` and appends the frames it sends as (port, frame).
    fn poll(&mut self, now: u64, out: &mut Vec<(usize, Vec<u8>)>);
    /// When the device next needs to run without a frame arriving (timers).
    fn next_wakeup(&self, _now: u64) -> Option<u64> {
        None
    }
    /// For typed access to a device ([`Sim::device`]).
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

type Call = Box<dyn FnOnce(&mut dyn Any, u64)>;

enum Event {
    Deliver {
        dev: usize,
        port: usize,
        frame: Vec<u8>,
    },
    Call {
        dev: usize,
        f: Call,
    },
}

/// What happened to a frame on a link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fate {
    /// It arrived (at the time of the trace entry).
    Delivered,
    /// The link lost it or its queue was full.
    Dropped,
}

/// One entry of the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TraceEntry {
    /// Virtual time, nanoseconds (arrival, or send time for a dropped frame).
    pub at: u64,
    /// When the frame was offered to the link, nanoseconds.
    pub sent: u64,
    /// Sending device.
    pub from: String,
    /// Receiving device.
    pub to: String,
    /// What the frame was.
    pub summary: String,
    /// What happened to it.
    pub fate: Fate,
}

/// The simulator.
pub struct Sim {
    now: u64,
    rng: ChaCha8Rng,
    devices: Vec<Box<dyn Device>>,
    links: Vec<Link>,
    attach: HashMap<(usize, usize), (usize, usize)>,
    queue: BinaryHeap<Reverse<(u64, u64)>>,
    events: HashMap<u64, Event>,
    seq: u64,
    tracing: bool,
    trace: Vec<TraceEntry>,
    out: Vec<(usize, Vec<u8>)>,
}

impl Sim {
    /// An empty simulation with a seed for every random choice.
    pub fn new(seed: u64) -> Self {
        Sim {
            now: 0,
            rng: ChaCha8Rng::seed_from_u64(seed),
            devices: Vec::new(),
            links: Vec::new(),
            attach: HashMap::new(),
            queue: BinaryHeap::new(),
            events: HashMap::new(),
            seq: 0,
            tracing: false,
            trace: Vec::new(),
            out: Vec::new(),
        }
    }

    /// Virtual time now, nanoseconds.
    pub fn now(&self) -> u64 {
        self.now
    }

    /// Adds a device and returns its id.
    pub fn add(&mut self, d: impl Device) -> usize {
        self.devices.push(Box::new(d));
        self.devices.len() - 1
    }

    /// Joins (device, port) `a` and `b` with a link; returns the link id.
    pub fn connect(&mut self, a: (usize, usize), b: (usize, usize), params: LinkParams) -> usize {
        let id = self.links.len();
        self.links.push(Link::new(a, b, params));
        self.attach.insert(a, (id, 0));
        self.attach.insert(b, (id, 1));
        id
    }

    /// A link, to read its counters or change its parameters.
    pub fn link(&mut self, id: usize) -> &mut Link {
        &mut self.links[id]
    }

    /// Counters of link `id` in both directions.
    pub fn link_stats(&self, id: usize) -> [LinkStats; 2] {
        self.links[id].stats
    }

    /// Typed access to a device.
    pub fn device<T: Device>(&mut self, id: usize) -> &mut T {
        self.devices[id]
            .as_any_mut()
            .downcast_mut::<T>()
            .expect("device type")
    }

    /// Schedules `f` on device `dev` (of type `T`) at time `at`.
    pub fn at<T: Device>(&mut self, at: u64, dev: usize, f: impl FnOnce(&mut T, u64) + 'static) {
        let call: Call = Box::new(move |d: &mut dyn Any, now| {
            if let Some(t) = d.downcast_mut::<T>() {
                f(t, now)
            }
        });
        self.push(at, Event::Call { dev, f: call });
    }

    /// Records a timeline of every frame from now on.
    pub fn set_tracing(&mut self, on: bool) {
        self.tracing = on;
    }

    /// Takes the timeline recorded so far.
    pub fn take_trace(&mut self) -> Vec<TraceEntry> {
        std::mem::take(&mut self.trace)
    }

    fn push(&mut self, at: u64, e: Event) {
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq)));
        self.events.insert(self.seq, e);
    }

    /// Runs until virtual time `end`.
    pub fn run_until(&mut self, end: u64) {
        loop {
            self.poll_all();
            let next_event = self.queue.peek().map(|r| r.0 .0);
            let now = self.now;
            let next_wake = self.devices.iter().filter_map(|d| d.next_wakeup(now)).min();
            let next = match (next_event, next_wake) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > end {
                break;
            }
            self.now = self.now.max(next);
            while let Some(Reverse((at, seq))) = self.queue.peek().copied() {
                if at > self.now {
                    break;
                }
                self.queue.pop();
                match self.events.remove(&seq) {
                    Some(Event::Deliver { dev, port, frame }) => {
                        self.devices[dev].deliver(self.now, port, &frame)
                    }
                    Some(Event::Call { dev, f }) => f(self.devices[dev].as_any_mut(), self.now),
                    None => {}
                }
            }
        }
        self.now = self.now.max(end);
    }

    fn poll_all(&mut self) {
        for i in 0..self.devices.len() {
            let mut out = std::mem::take(&mut self.out);
            self.devices[i].poll(self.now, &mut out);
            for (port, frame) in out.drain(..) {
                self.send(i, port, frame);
            }
            self.out = out;
        }
    }

    fn send(&mut self, dev: usize, port: usize, frame: Vec<u8>) {
        let Some(&(lid, side)) = self.attach.get(&(dev, port)) else {
            return;
        };
        let arrivals = self.links[lid].offer(side, self.now, &frame, &mut self.rng);
        let (to_dev, to_port) = self.links[lid].ends[1 - side];
        if self.tracing {
            let summary = trace::summarize(&frame);
            let (from, to) = (
                self.devices[dev].name().to_string(),
                self.devices[to_dev].name().to_string(),
            );
            if arrivals.is_empty() {
                self.trace.push(TraceEntry {
                    at: self.now,
                    sent: self.now,
                    from: from.clone(),
                    to: to.clone(),
                    summary: summary.clone(),
                    fate: Fate::Dropped,
                });
            }
            for &at in &arrivals {
                self.trace.push(TraceEntry {
                    at,
                    sent: self.now,
                    from: from.clone(),
                    to: to.clone(),
                    summary: summary.clone(),
                    fate: Fate::Delivered,
                });
            }
        }
        for at in arrivals {
            let frame = frame.clone();
            self.push(
                at,
                Event::Deliver {
                    dev: to_dev,
                    port: to_port,
                    frame,
                },
            );
        }
    }
}

#[cfg(test)]
mod tests;
