//! The peer channel of a site: UDP datagrams between the nodes that share
//! the anycast addresses, authenticated with HMAC-SHA256 (RFC 2104) under
//! the site key.
//!
//! Layout (big-endian): `"AEPC"`, version (1), type, sender name (length +
//! bytes), timestamp (unix ms, 8 bytes), body, HMAC (32 bytes) over all that
//! precedes it. Types: 1 = path-metrics entries, 2 = "I reset this 4-tuple",
//! 3 = a connection-replication message (issue 7), whose body (a 16-bit
//! length and the bytes) the overlay's `repl` module defines.
//! A datagram from an address that is not a configured peer, too short, of
//! another version, older than [`MAX_AGE_MS`] or with a bad HMAC is dropped
//! and counted by reason.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use std::net::{Ipv4Addr, SocketAddrV4};

const MAGIC: &[u8; 4] = b"AEPC";
/// Protocol version.
pub const VERSION: u8 = 1;
/// Messages older than this (or this far in the future) are refused.
pub const MAX_AGE_MS: u64 = 30_000;
const TAG: usize = 32;

/// A path-metrics entry on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WireEntry {
    /// Client address.
    pub client: Ipv4Addr,
    /// cwnd, bytes.
    pub cwnd: u32,
    /// min RTT, us.
    pub min_rtt_us: u32,
    /// SRTT, us.
    pub srtt_us: u32,
}

/// A message body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// Path metrics.
    Metrics(Vec<WireEntry>),
    /// The sender reset this connection (client, VIP side).
    Reset {
        /// Client address and port.
        client: SocketAddrV4,
        /// The VIP address and port the client used.
        vip: SocketAddrV4,
    },
    /// Connection replication between a primary and its backup (the body
    /// is `overlay::repl`'s; at most [`MAX_REPL`] bytes).
    Repl(Vec<u8>),
}

/// Largest replication body: the whole datagram stays within one 1500-byte
/// IP packet (the engine does not fragment, RFC 791 allows it not to) with
/// the longest node name: 1500 - 20 (IPv4) - 8 (UDP) - 113 (magic, version,
/// type, name of up to 64 bytes, timestamp, body length, HMAC).
pub const MAX_REPL: usize = 1500 - 20 - 8 - (4 + 1 + 1 + 1 + 64 + 8 + 2 + TAG);

/// A decoded message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// Sender node name.
    pub from: String,
    /// Sender's unix time, ms.
    pub unix_ms: u64,
    /// Body.
    pub body: Body,
}

/// Why a datagram was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refused {
    /// Truncated or malformed.
    Malformed,
    /// Another protocol version.
    Version,
    /// Outside the accepted time window.
    Stale,
    /// HMAC mismatch.
    Forged,
}

/// The site key made ready for HMAC-SHA256 (RFC 2104): its inner and outer
/// pads are hashed once, and each message starts from a copy, which saves
/// two SHA-256 blocks per datagram.
pub fn mac(key: &[u8]) -> Hmac<Sha256> {
    // HMAC accepts keys of any length (RFC 2104 2).
    <Hmac<Sha256> as Mac>::new_from_slice(key).expect("HMAC takes any key length")
}

/// Encodes and signs a message.
pub fn encode(key: &[u8], m: &Message, out: &mut Vec<u8>) {
    encode_with(&mac(key), m, out)
}

/// As [`encode`], with the key ready ([`mac`]).
pub fn encode_with(keyed: &Hmac<Sha256>, m: &Message, out: &mut Vec<u8>) {
    let kind = match &m.body {
        Body::Metrics(_) => 1,
        Body::Reset { .. } => 2,
        Body::Repl(_) => 3,
    };
    write_head(out, kind, &m.from, m.unix_ms);
    match &m.body {
        Body::Metrics(es) => {
            let n = es.len().min(64);
            out.push(n as u8);
            for e in &es[..n] {
                out.extend_from_slice(&e.client.octets());
                out.extend_from_slice(&e.cwnd.to_be_bytes());
                out.extend_from_slice(&e.min_rtt_us.to_be_bytes());
                out.extend_from_slice(&e.srtt_us.to_be_bytes());
            }
        }
        Body::Reset { client, vip } => {
            out.extend_from_slice(&client.ip().octets());
            out.extend_from_slice(&client.port().to_be_bytes());
            out.extend_from_slice(&vip.ip().octets());
            out.extend_from_slice(&vip.port().to_be_bytes());
        }
        Body::Repl(b) => write_repl(out, b),
    }
    sign(keyed, out);
}

/// As [`encode_with`] for a replication body, from borrowed parts: the
/// primary seals a batch per poll this way, with no `Message` (and no copy
/// of its name or of the batch) built for it.
pub fn encode_repl_with(
    keyed: &Hmac<Sha256>,
    from: &str,
    unix_ms: u64,
    body: &[u8],
    out: &mut Vec<u8>,
) {
    write_head(out, 3, from, unix_ms);
    write_repl(out, body);
    sign(keyed, out);
}

/// Magic, version, kind, sender name (at most 64 bytes) and clock.
fn write_head(out: &mut Vec<u8>, kind: u8, from: &str, unix_ms: u64) {
    out.clear();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(kind);
    let name = from.as_bytes();
    let name = &name[..name.len().min(64)];
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&unix_ms.to_be_bytes());
}

fn write_repl(out: &mut Vec<u8>, b: &[u8]) {
    let b = &b[..b.len().min(MAX_REPL)];
    out.extend_from_slice(&(b.len() as u16).to_be_bytes());
    out.extend_from_slice(b);
}

/// Appends the HMAC-SHA256 tag over everything before it.
fn sign(keyed: &Hmac<Sha256>, out: &mut Vec<u8>) {
    let mut h = keyed.clone();
    h.update(out);
    let tag = h.finalize().into_bytes();
    out.extend_from_slice(&tag);
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], Refused> {
        if self.0.len() < n {
            return Err(Refused::Malformed);
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, Refused> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, Refused> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Result<u32, Refused> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn ip(&mut self) -> Result<Ipv4Addr, Refused> {
        Ok(Ipv4Addr::from(self.u32()?))
    }
}

/// Verifies and decodes a datagram received at unix time `now_ms`.
pub fn decode(key: &[u8], data: &[u8], now_ms: u64) -> Result<Message, Refused> {
    decode_with(&mac(key), data, now_ms)
}

/// As [`decode`], with the key ready ([`mac`]).
pub fn decode_with(keyed: &Hmac<Sha256>, data: &[u8], now_ms: u64) -> Result<Message, Refused> {
    if data.len() < 4 + 1 + 1 + 1 + 8 + TAG || &data[..4] != MAGIC {
        return Err(Refused::Malformed);
    }
    if data[4] != VERSION {
        return Err(Refused::Version);
    }
    let (signed, tag) = data.split_at(data.len() - TAG);
    let mut h = keyed.clone();
    h.update(signed);
    // Constant-time comparison (hmac's verify).
    h.verify_slice(tag).map_err(|_| Refused::Forged)?;
    let mut r = Reader(&signed[5..]);
    let kind = r.u8()?;
    let nlen = r.u8()? as usize;
    let from = String::from_utf8(r.take(nlen)?.to_vec()).map_err(|_| Refused::Malformed)?;
    let b = r.take(8)?;
    let unix_ms = u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]);
    if unix_ms.abs_diff(now_ms) > MAX_AGE_MS {
        return Err(Refused::Stale);
    }
    let body = match kind {
        1 => {
            let n = r.u8()? as usize;
            let mut es = Vec::with_capacity(n);
            for _ in 0..n {
                es.push(WireEntry {
                    client: r.ip()?,
                    cwnd: r.u32()?,
                    min_rtt_us: r.u32()?,
                    srtt_us: r.u32()?,
                });
            }
            Body::Metrics(es)
        }
        2 => Body::Reset {
            client: SocketAddrV4::new(r.ip()?, r.u16()?),
            vip: SocketAddrV4::new(r.ip()?, r.u16()?),
        },
        3 => {
            let n = r.u16()? as usize;
            if n > MAX_REPL {
                return Err(Refused::Malformed);
            }
            Body::Repl(r.take(n)?.to_vec())
        }
        _ => return Err(Refused::Malformed),
    };
    if !r.0.is_empty() {
        return Err(Refused::Malformed);
    }
    Ok(Message {
        from,
        unix_ms,
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message {
            from: "edge-a".into(),
            unix_ms: 1_000_000,
            body: Body::Metrics(vec![WireEntry {
                client: Ipv4Addr::new(10, 0, 1, 2),
                cwnd: 1 << 20,
                min_rtt_us: 50_000,
                srtt_us: 51_000,
            }]),
        }
    }

    #[test]
    fn round_trips_and_refuses_forgeries_and_old_messages() {
        let mut buf = Vec::new();
        encode(b"site-secret", &sample(), &mut buf);
        assert_eq!(decode(b"site-secret", &buf, 1_000_500).unwrap(), sample());
        assert_eq!(decode(b"other-key!", &buf, 1_000_500), Err(Refused::Forged));
        assert_eq!(
            decode(b"site-secret", &buf, 1_000_000 + MAX_AGE_MS + 1),
            Err(Refused::Stale)
        );
        let mut bad = buf.clone();
        bad[20] ^= 1;
        assert_eq!(
            decode(b"site-secret", &bad, 1_000_500),
            Err(Refused::Forged)
        );
        bad = buf.clone();
        bad[4] = 2;
        assert_eq!(
            decode(b"site-secret", &bad, 1_000_500),
            Err(Refused::Version)
        );
        assert_eq!(
            decode(b"site-secret", &buf[..20], 1_000_500),
            Err(Refused::Malformed)
        );
        let reset = Message {
            from: "edge-b".into(),
            unix_ms: 5,
            body: Body::Reset {
                client: "10.0.1.2:50000".parse().unwrap(),
                vip: "203.0.113.10:80".parse().unwrap(),
            },
        };
        encode(b"k", &reset, &mut buf);
        assert_eq!(decode(b"k", &buf, 6).unwrap(), reset);
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x = 7u64;
        for len in 0..200 {
            let d: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            let _ = decode(b"k", &d, 0);
        }
    }
}
