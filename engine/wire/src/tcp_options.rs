//! TCP option decoding (RFC 9293 section 3.2, RFC 7323, RFC 2018).
//!
//! Written here rather than with etherparse's `TcpOptionsIterator` because
//! that iterator stops with an error at the first unknown option kind, while
//! RFC 9293 section 3.2 requires a TCP to skip options it does not implement
//! by their length (e.g. TFO, MPTCP, TCP-AO seen at the edge).

use crate::DropReason;

/// Option kinds (IANA "TCP Option Kind Numbers").
const KIND_EOL: u8 = 0;
const KIND_NOP: u8 = 1;
const KIND_MSS: u8 = 2;
const KIND_WS: u8 = 3;
const KIND_SACK_PERMITTED: u8 = 4;
const KIND_SACK: u8 = 5;
const KIND_TIMESTAMPS: u8 = 8;

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
}

/// Decodes the options area of a TCP header ([`Tcp::options`](crate::Tcp)).
///
/// EOL ends the list, NOP is skipped, MSS/WS/SACK-permitted/timestamps must
/// have their fixed lengths (4/3/2/10) and SACK a length of 2 + 8n with n in
/// 1..=4; any other kind is skipped by its length, which must be at least 2
/// and stay within `options` (RFC 9293 section 3.2). Otherwise
/// [`DropReason::BadTcpOptions`].
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
