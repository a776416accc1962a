//! TCP option decoding (RFC 9293 section 3.2, RFC 7323, RFC 2018).
//!
//! Written here rather than with etherparse's `TcpOptionsIterator` because
//! that iterator stops with an error at the first unknown option kind, while
//! RFC 9293 section 3.2 requires a TCP to skip options it does not implement
//! by their length (e.g. TFO, MPTCP, TCP-AO seen at the edge).
//!
//! One experimental option of our own rides under kind 253 (RFC 6994): the
//! overlay's early-data proposal ([`EarlyData`]).

use crate::DropReason;

/// Option kinds (IANA "TCP Option Kind Numbers").
const KIND_EOL: u8 = 0;
const KIND_NOP: u8 = 1;
const KIND_MSS: u8 = 2;
const KIND_WS: u8 = 3;
const KIND_SACK_PERMITTED: u8 = 4;
const KIND_SACK: u8 = 5;
const KIND_TIMESTAMPS: u8 = 8;
/// Shared experimental kind (RFC 4727, used with an ExID per RFC 6994).
pub const KIND_EXPERIMENTAL: u8 = 253;

/// Our RFC 6994 Experiment Identifier under kind 253: "AEDA", anyedge
/// early data. It is not registered with IANA's "TCP Experimental Option
/// Experiment Identifiers" registry; it was picked clear of the registered
/// ones (e.g. TFO's 0xF989) and is only meaningful between configured
/// overlay peers, which authenticate the option's tag anyway.
pub const EARLY_DATA_EXID: u16 = 0xAEDA;

/// Length of the early-data option: kind, length, ExID (2), proposed ISN
/// (4), tag (8). A multiple of four, so it needs no padding.
pub const EARLY_DATA_LEN: usize = 16;

/// The overlay's early-data proposal, carried on an edge's SYN (issue 7,
/// the scheme of US 2015/0381771): the ISN the edge proposes for the
/// gateway's side of the connection, and a tag with which the gateway
/// checks that a configured peer made the proposal (an HMAC computed and
/// verified outside the TCP core, which does no cryptography).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EarlyData {
    /// The proposed gateway ISN (the gateway's SYN-ACK will use it).
    pub isn: u32,
    /// Authentication tag over the proposal.
    pub tag: [u8; 8],
}

/// Largest window shift RFC 7323 section 2.3 allows; larger values are
/// treated as 14.
const MAX_WINDOW_SCALE: u8 = 14;

/// Parsed TCP options (RFC 9293 MSS, RFC 7323 WS/TS, RFC 2018
/// SACK-permitted/SACK blocks). Unknown options are skipped by their length;
/// a malformed length gives BadTcpOptions.
///
/// If an option appears twice, the last occurrence wins.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TcpOptions {
    /// Maximum segment size (kind 2, RFC 9293 section 3.7.1).
    pub mss: Option<u16>,
    /// Window scale shift (kind 3, RFC 7323 section 2), clamped to 14.
    pub window_scale: Option<u8>,
    /// SACK permitted (kind 4, RFC 2018 section 2).
    pub sack_permitted: bool,
    /// (TSval, TSecr) (kind 8, RFC 7323 section 3).
    pub timestamps: Option<(u32, u32)>,
    /// SACK blocks (left edge, right edge) (kind 5, RFC 2018 section 3); the
    /// first `sack_count` entries are valid.
    pub sack_blocks: [(u32, u32); 4],
    /// Number of valid entries in `sack_blocks` (0..=4).
    pub sack_count: usize,
    /// Early-data proposal (kind 253, ExID [`EARLY_DATA_EXID`], RFC 6994).
    pub early_data: Option<EarlyData>,
}

/// Decodes the options area of a TCP header ([`Tcp::options`](crate::Tcp)).
///
/// EOL ends the list, NOP is skipped, MSS/WS/SACK-permitted/timestamps must
/// have their fixed lengths (4/3/2/10) and SACK a length of 2 + 8n with n in
/// 1..=4; any other kind is skipped by its length, which must be at least 2
/// and stay within `options` (RFC 9293 section 3.2). Otherwise
/// [`DropReason::BadTcpOptions`]. Under kind 253 only our ExID is decoded,
/// and it must have length 16; other ExIDs are skipped like unknown kinds
/// (RFC 6994 section 3).
pub fn parse_tcp_options(options: &[u8]) -> Result<TcpOptions, DropReason> {
    let bad = DropReason::BadTcpOptions;
    let mut out = TcpOptions::default();
    let mut rest = options;
    while let Some((&kind, after_kind)) = rest.split_first() {
        match kind {
            KIND_EOL => break,
            KIND_NOP => {
                rest = after_kind;
                continue;
            }
            _ => {}
        }
        let len = usize::from(*after_kind.first().ok_or(bad)?);
        if len < 2 {
            return Err(bad);
        }
        let (opt, tail) = rest.split_at_checked(len).ok_or(bad)?;
        let body = opt.get(2..).unwrap_or(&[]);
        match kind {
            KIND_MSS => {
                let b: [u8; 2] = body.try_into().map_err(|_| bad)?;
                out.mss = Some(u16::from_be_bytes(b));
            }
            KIND_WS => {
                let [shift]: [u8; 1] = body.try_into().map_err(|_| bad)?;
                out.window_scale = Some(shift.min(MAX_WINDOW_SCALE));
            }
            KIND_SACK_PERMITTED => {
                if !body.is_empty() {
                    return Err(bad);
                }
                out.sack_permitted = true;
            }
            KIND_TIMESTAMPS => {
                let b: [u8; 8] = body.try_into().map_err(|_| bad)?;
                let val = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                let ecr = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                out.timestamps = Some((val, ecr));
            }
            KIND_SACK => {
                let blocks = body.chunks_exact(8);
                let count = blocks.len();
                if count == 0 || count > out.sack_blocks.len() || !blocks.remainder().is_empty() {
                    return Err(bad);
                }
                for (slot, b) in out.sack_blocks.iter_mut().zip(blocks) {
                    let left = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
                    let right = u32::from_be_bytes([b[4], b[5], b[6], b[7]]);
                    *slot = (left, right);
                }
                out.sack_count = count;
            }
            KIND_EXPERIMENTAL if body.len() >= 2 && body[..2] == EARLY_DATA_EXID.to_be_bytes() => {
                let b: [u8; EARLY_DATA_LEN - 2] = body.try_into().map_err(|_| bad)?;
                let mut tag = [0u8; 8];
                tag.copy_from_slice(&b[6..14]);
                out.early_data = Some(EarlyData {
                    isn: u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
                    tag,
                });
            }
            _ => {}
        }
        rest = tail;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bad(opts: &[u8]) {
        assert_eq!(
            parse_tcp_options(opts),
            Err(DropReason::BadTcpOptions),
            "{opts:?}"
        );
    }

    #[test]
    fn empty() {
        assert_eq!(parse_tcp_options(&[]), Ok(TcpOptions::default()));
    }

    #[test]
    fn typical_syn() {
        // Linux SYN: MSS 1460, SACKOK, TS, NOP, WS 7.
        let opts = [
            2, 4, 0x05, 0xb4, 4, 2, 8, 10, 0, 0, 0, 1, 0, 0, 0, 0, 1, 3, 3, 7,
        ];
        let o = parse_tcp_options(&opts).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert!(o.sack_permitted);
        assert_eq!(o.timestamps, Some((1, 0)));
        assert_eq!(o.window_scale, Some(7));
        assert_eq!(o.sack_count, 0);
    }

    #[test]
    fn sack_blocks() {
        let mut opts = vec![1, 1, 5, 2 + 8 * 3];
        for i in 0..3u32 {
            opts.extend_from_slice(&(i * 100).to_be_bytes());
            opts.extend_from_slice(&(i * 100 + 50).to_be_bytes());
        }
        let o = parse_tcp_options(&opts).unwrap();
        assert_eq!(o.sack_count, 3);
        assert_eq!(o.sack_blocks[..3], [(0, 50), (100, 150), (200, 250)]);
        assert_eq!(o.sack_blocks[3], (0, 0));

        let mut four = vec![5, 34];
        four.extend_from_slice(&[0xab; 32]);
        assert_eq!(parse_tcp_options(&four).unwrap().sack_count, 4);
    }

    #[test]
    fn eol_stops_parsing() {
        // Garbage after EOL is padding and ignored.
        let o = parse_tcp_options(&[3, 3, 2, 0, 0xff, 0xff, 9]).unwrap();
        assert_eq!(o.window_scale, Some(2));
        assert_eq!(o.mss, None);
    }

    #[test]
    fn nops_only() {
        assert_eq!(parse_tcp_options(&[1, 1, 1, 1]), Ok(TcpOptions::default()));
    }

    #[test]
    fn window_scale_clamped_to_14() {
        let o = parse_tcp_options(&[3, 3, 20]).unwrap();
        assert_eq!(o.window_scale, Some(14));
    }

    #[test]
    fn unknown_options_skipped() {
        // TFO cookie (34), MPTCP (30), then MSS.
        let opts = [34, 6, 1, 2, 3, 4, 30, 4, 0, 0, 2, 4, 0x02, 0x18];
        let o = parse_tcp_options(&opts).unwrap();
        assert_eq!(o.mss, Some(536));
    }

    #[test]
    fn early_data_option() {
        let mut opts = vec![2, 4, 0x05, 0xb4, 253, 16, 0xae, 0xda];
        opts.extend_from_slice(&0x0102_0304u32.to_be_bytes());
        opts.extend_from_slice(&[9, 8, 7, 6, 5, 4, 3, 2]);
        let o = parse_tcp_options(&opts).unwrap();
        assert_eq!(o.mss, Some(1460));
        assert_eq!(
            o.early_data,
            Some(EarlyData {
                isn: 0x0102_0304,
                tag: [9, 8, 7, 6, 5, 4, 3, 2]
            })
        );
        // Our ExID with the wrong length is malformed.
        bad(&[253, 8, 0xae, 0xda, 0, 0, 0, 0]);
        // Other ExIDs under 253 (TFO's 0xF989) and short 253 options are skipped.
        let o = parse_tcp_options(&[253, 6, 0xf9, 0x89, 1, 2, 253, 2, 2, 4, 2, 24]).unwrap();
        assert_eq!((o.early_data, o.mss), (None, Some(536)));
    }

    #[test]
    fn malformed_lengths() {
        bad(&[2]); // kind without length
        bad(&[2, 4, 5]); // runs past the end
        bad(&[2, 3, 5]); // MSS wrong length
        bad(&[2, 5, 0, 0, 0]);
        bad(&[3, 2]); // WS wrong length
        bad(&[4, 3, 0]); // SACKOK wrong length
        bad(&[8, 8, 0, 0, 0, 0, 0, 0]); // TS wrong length
        bad(&[5, 2]); // SACK with no block
        bad(&[5, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0]); // SACK not 2 + 8n
        let mut five = vec![5, 42];
        five.extend_from_slice(&[0; 40]);
        bad(&five); // five SACK blocks
        bad(&[99, 0]); // unknown with length 0
        bad(&[99, 1, 1]); // unknown with length 1
        bad(&[99, 10, 0]); // unknown past the end
    }
}
