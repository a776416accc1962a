#![allow(unsafe_code)] // A GlobalAlloc impl is unsafe by definition; this counting allocator is test-only.
//! DESIGN.md section 2, "no allocation on the fast path", shown for the HTTP
//! server: once a keep-alive connection is set up, answering another request
//! (parse, cache lookup, response head, body into TCP, segments out, ACKs in)
//! makes no heap allocation.
//!
//! A counting global allocator (this test binary only) counts the
//! allocations made on this thread while the server side runs; the client
//! side (plain sans-IO TCP driven by the test) is not counted.

use anyedge_cache::Cache;
use anyedge_http::Limits;
use anyedge_node::http::{HttpConn, HttpCounters, HttpCtx};
use anyedge_tcp::conn::{Conn, ConnConfig, Outgoing, Segment};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::net::SocketAddrV4;
use std::sync::atomic::{AtomicU64, Ordering};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Const-initialised and without Drop: reading it never allocates.
    static COUNTING: Cell<bool> = const { Cell::new(false) };
}

// SAFETY: every method forwards to the system allocator with the caller's
// arguments; the counting touches only an atomic and a const thread-local.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        if COUNTING.with(|c| c.get()) {
            ALLOCS.fetch_add(1, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Runs `f` with the allocations of this thread counted; returns their number.
fn counted<R>(f: impl FnOnce() -> R) -> (R, u64) {
    let before = ALLOCS.load(Ordering::Relaxed);
    COUNTING.with(|c| c.set(true));
    let r = f();
    COUNTING.with(|c| c.set(false));
    (r, ALLOCS.load(Ordering::Relaxed) - before)
}

/// Moves every segment `from` has to send into `to`; returns the payload
/// bytes moved.
fn deliver(now: u64, from: &mut Conn, to: &mut Conn, buf: &mut [u8]) -> usize {
    let mut moved = 0;
    while let Some(Outgoing {
        hdr, payload_len, ..
    }) = from.poll_transmit(now, buf)
    {
        let seg = Segment {
            seq: hdr.seq,
            ack: hdr.ack,
            flags: hdr.flags,
            window: hdr.window,
            opts: hdr.options,
            payload: &buf[..payload_len],
        };
        to.handle_segment(now, &seg);
        moved += payload_len;
    }
    moved
}

/// The HTTP server's context: no anycast, no overlay, a fixed clock.
fn server_ctx<'a>(cache: &'a Cache, limits: &'a Limits, counters: &'a HttpCounters) -> HttpCtx<'a> {
    HttpCtx {
        anycast: None,
        cache,
        limits,
        unix_now: 1_700_000_000,
        counters,
        fetch_misses: false,
    }
}

/// A client and a server connection after their handshake.
fn connected(now: u64, buf: &mut [u8]) -> (Conn, Conn) {
    let cfg = ConnConfig {
        delayed_ack_ns: 0,
        ..ConnConfig::default()
    };
    let srv_addr: SocketAddrV4 = "203.0.113.10:80".parse().unwrap();
    let cli_addr: SocketAddrV4 = "10.0.1.2:40000".parse().unwrap();
    let mut cli = Conn::connect(cfg, cli_addr, srv_addr, 1000, now);
    let syn = cli.poll_transmit(now, buf).unwrap();
    let syn_seg = Segment {
        seq: syn.hdr.seq,
        ack: syn.hdr.ack,
        flags: syn.hdr.flags,
        window: syn.hdr.window,
        opts: syn.hdr.options,
        payload: &[],
    };
    let mut srv = Conn::accept(cfg, srv_addr, cli_addr, 5000, &syn_seg, now);
    deliver(now, &mut srv, &mut cli, buf);
    deliver(now, &mut cli, &mut srv, buf);
    (cli, srv)
}

#[test]
fn keep_alive_requests_make_no_heap_allocation_on_the_server() {
    let dir = std::env::temp_dir().join(format!("anyedge-noalloc-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("small.bin"), vec![7u8; 1024]).unwrap();
    std::fs::write(dir.join("big.bin"), vec![9u8; 256 * 1024]).unwrap();
    let cache = Cache::new(8 << 20, Some(dir.clone())).unwrap();
    cache.load_dir(&dir).unwrap();
    let limits = Limits::default();
    let counters = HttpCounters::default();
    let ctx = server_ctx(&cache, &limits, &counters);

    let mut now = 1_000_000u64;
    let mut buf = vec![0u8; 65536];
    let (mut cli, mut srv) = connected(now, &mut buf);
    let mut http = HttpConn::new(now);

    let mut sink = vec![0u8; 512 * 1024];
    // One request, answered to its last byte; returns response bytes.
    let mut exchange = |now: &mut u64, path: &str, count: bool| -> (usize, u64) {
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nRange: bytes=10-\r\n\r\n");
        cli.send(req.as_bytes());
        deliver(*now, &mut cli, &mut srv, &mut buf);
        let mut got = 0;
        let mut allocs = 0;
        for _ in 0..10_000 {
            *now += 100_000;
            let (_, a) = if count {
                counted(|| {
                    http.serve(&mut srv, *now, &ctx);
                    deliver(*now, &mut srv, &mut cli, &mut buf);
                })
            } else {
                http.serve(&mut srv, *now, &ctx);
                deliver(*now, &mut srv, &mut cli, &mut buf);
                ((), 0)
            };
            allocs += a;
            let n = cli.recv(&mut sink);
            got += n;
            // The client's ACKs go back; the server's side of it is counted.
            let (_, a) = counted(|| deliver(*now, &mut cli, &mut srv, &mut buf));
            allocs += if count { a } else { 0 };
            if n == 0 && srv.in_flight() == 0 && srv.buffered().0 == 0 && got > 0 {
                break;
            }
        }
        (got, allocs)
    };
    // Warm-up: the first requests size the connection's buffers.
    for p in ["/small.bin", "/big.bin", "/small.bin"] {
        exchange(&mut now, p, false);
    }
    let mut total = 0;
    for i in 0..50 {
        let path = if i % 2 == 0 { "/small.bin" } else { "/big.bin" };
        let (got, allocs) = exchange(&mut now, path, true);
        assert!(
            got > 1000,
            "request {i} for {path}: only {got} bytes came back"
        );
        total += allocs;
    }
    assert_eq!(counters.status[1].get(), 53, "every answer was a 206");
    assert_eq!(
        total, 0,
        "heap allocations while serving 50 keep-alive requests"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_body_goes_out_by_reference_to_the_cached_object_not_as_a_copy() {
    let dir = std::env::temp_dir().join(format!("anyedge-zerocopy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("big.bin"), vec![9u8; 200 * 1024]).unwrap();
    let cache = Cache::new(8 << 20, Some(dir.clone())).unwrap();
    cache.load_dir(&dir).unwrap();
    let (limits, counters) = (Limits::default(), HttpCounters::default());
    let ctx = server_ctx(&cache, &limits, &counters);
    let mut now = 1_000_000u64;
    let mut buf = vec![0u8; 65536];
    let (mut cli, mut srv) = connected(now, &mut buf);
    let obj = cache.get("big.bin").unwrap();
    let refs = std::sync::Arc::strong_count(&obj);
    let mut http = HttpConn::new(now);
    cli.send(b"GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n");
    deliver(now, &mut cli, &mut srv, &mut buf);
    http.serve(&mut srv, now, &ctx);
    // The whole body is queued (the send buffer is larger), as one
    // reference to the object: the send buffer holds it, not its bytes.
    assert!(srv.buffered().0 > 200 * 1024, "{:?}", srv.buffered());
    assert!(
        std::sync::Arc::strong_count(&obj) > refs,
        "the send buffer holds the object"
    );
    let mut sink = vec![0u8; 512 * 1024];
    let mut got = Vec::new();
    for _ in 0..1000 {
        now += 100_000;
        http.serve(&mut srv, now, &ctx);
        deliver(now, &mut srv, &mut cli, &mut buf);
        let n = cli.recv(&mut sink);
        got.extend_from_slice(&sink[..n]);
        deliver(now, &mut cli, &mut srv, &mut buf);
        if srv.buffered().0 == 0 && srv.in_flight() == 0 {
            break;
        }
    }
    let body = &got[got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4..];
    assert_eq!(body, obj.bytes(), "the client got the object's bytes");
    assert_eq!(
        std::sync::Arc::strong_count(&obj),
        refs,
        "acknowledged: the reference is dropped"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
