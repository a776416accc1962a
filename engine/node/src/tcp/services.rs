//! The services of a `cdn` core's TCP stack: what each kind of connection
//! does with its bytes (discard, echo, chargen, sink, HTTP and the overlay
//! relays), run after its segments or timers.

use super::*;

/// What a connection is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum App {
    /// RFC 863: read and drop.
    Discard,
    /// RFC 862: send back what arrives.
    Echo,
    /// RFC 864: send characters until the peer closes.
    Chargen,
    /// An active open that reads and drops what the peer sends.
    Sink,
    /// HTTP/1.1 from the cache (`[http] port`).
    Http,
    /// Overlay gateway: a connection from an edge, relayed to the origin.
    GwDown,
    /// Overlay gateway: the connection to the origin for one edge connection.
    GwUp,
    /// Overlay edge: a connection to the gateway that carries misses.
    EdgeUp,
}

impl App {
    pub(super) fn name(self) -> &'static str {
        match self {
            App::Discard => "discard",
            App::Echo => "echo",
            App::Chargen => "chargen",
            App::Sink => "sink",
            App::Http => "http",
            App::GwDown => "overlay-from-edge",
            App::GwUp => "overlay-to-origin",
            App::EdgeUp => "overlay-to-gateway",
        }
    }
}

/// The character line of RFC 864: 72 printable characters per line, the
/// pattern shifting by one each line.
fn chargen_byte(pos: usize) -> u8 {
    let line = pos / 74;
    let col = pos % 74;
    match col {
        72 => b'\r',
        73 => b'\n',
        _ => b' ' + ((line + col) % 95) as u8,
    }
}

/// Bytes of one period of the chargen stream: 95 lines of 74 bytes.
const CHARGEN_PERIOD: usize = 95 * 74;

/// 150 periods of the chargen stream (about 1 MiB), built once and shared
/// by every chargen connection: sent by reference like cached content
/// (`Conn::send_shared`), so a connection's send buffer holds a few ranges
/// of it rather than copies.
fn chargen_block() -> &'static Shared {
    static BLOCK: std::sync::OnceLock<Shared> = std::sync::OnceLock::new();
    BLOCK.get_or_init(|| {
        let v: Vec<u8> = (0..150 * CHARGEN_PERIOD).map(chargen_byte).collect();
        Arc::new(v)
    })
}

impl TcpStack {
    pub(super) fn serve(&mut self, id: ConnId, now: u64) {
        let (Some(c), Some(m)) = (self.table.get_mut(id), self.meta[id].as_mut()) else {
            return;
        };
        while let Some(e) = c.poll_event() {
            if matches!(e, Event::Reset | Event::TimedOut | Event::Closed) {
                log::debug!("tcp {} -> {}: {e:?}", c.local, c.remote);
                m.end = Some(e);
            }
        }
        match m.app {
            App::Discard | App::Sink => while c.recv_discard(usize::MAX) > 0 {},
            App::GwDown | App::GwUp | App::EdgeUp => return self.overlay_serve(now, id),
            App::Http => {
                if let (Some(h), Some(cache)) = (self.http[id].as_mut(), self.cache.as_deref()) {
                    let ctx = crate::http::HttpCtx {
                        anycast: self.anycast.as_deref(),
                        cache,
                        limits: &self.limits,
                        unix_now: self.unix_base + now / 1_000_000_000,
                        counters: &self.http_counters,
                        fetch_misses: self.overlay.as_ref().is_some_and(|o| o.gateway().is_some()),
                    };
                    h.serve(c, now, &ctx);
                    if let Some(key) = h.take_miss() {
                        self.fetch_wait.push((id, key));
                    }
                }
                return self.repl_after_serve(now, id);
            }
            App::Echo => loop {
                let room = c.send_room().min(self.scratch.len());
                if room == 0 {
                    break;
                }
                let n = c.recv(&mut self.scratch[..room]);
                if n == 0 {
                    break;
                }
                c.send(&self.scratch[..n]);
            },
            App::Chargen => {
                while c.recv_discard(usize::MAX) > 0 {}
                // The RFC 864 stream repeats every 95 lines: send ranges of
                // a precomputed block of whole periods, by reference.
                while !c.at_eof() && c.send_room() > 0 {
                    let block = chargen_block();
                    let off = m.chargen_pos % block.as_ref().as_ref().len();
                    let n = c.send_shared(block, off, usize::MAX);
                    m.chargen_pos += n;
                    if n == 0 {
                        break;
                    }
                }
            }
        }
        if c.at_eof() && matches!(c.state(), State::CloseWait) {
            c.close();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chargen_lines_follow_rfc_864() {
        let line0: Vec<u8> = (0..74).map(chargen_byte).collect();
        assert_eq!(&line0[..3], b" !\"");
        assert_eq!(&line0[72..], b"\r\n");
        let line1: Vec<u8> = (74..148).map(chargen_byte).collect();
        assert_eq!(line1[0], line0[1], "each line starts one character later");
    }
}
