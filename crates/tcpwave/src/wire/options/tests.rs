//! Parse and emit byte for byte against Linux's layouts, malformed areas, and a proptest that
//! the whole-area matches of `fast_paths.rs` give what the general walk gives.

use super::parse::parse_options_walk;
use super::*;
use crate::seq::SeqNumber;
use crate::wire::{SackBlock, TcpOptions, WireError};

#[test]
fn display_is_tcpdumps_words() {
    let syn = TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((1, 0)),
        ..TcpOptions::default()
    };
    assert_eq!(syn.to_string(), "mss 1460,sackOK,TS val 1 ecr 0,wscale 7");
    let mut data = TcpOptions {
        timestamps: Some((5, 4)),
        ..TcpOptions::default()
    };
    data.sack_blocks[0] = SackBlock {
        left: SeqNumber(1449),
        right: SeqNumber(2897),
    };
    data.sack_count = 1;
    assert_eq!(data.to_string(), "TS val 5 ecr 4,sack 1 {1449:2897}");
    assert_eq!(TcpOptions::default().to_string(), "");
}

fn sack(left: u32, right: u32) -> SackBlock {
    SackBlock {
        left: SeqNumber(left),
        right: SeqNumber(right),
    }
}

fn emit(options: &TcpOptions, syn: bool) -> Vec<u8> {
    let mut buf = [0u8; TCP_MAX_OPTIONS_LEN];
    let len = emit_options(options, syn, &mut buf).expect("40 bytes always suffice");
    assert_eq!(len, options_len(options, syn));
    buf[..len].to_vec()
}

/// `options` emit as exactly `expected`, and `expected` parses back to `options`.
fn assert_emits_and_parses(options: &TcpOptions, syn: bool, expected: &[u8]) {
    assert_eq!(emit(options, syn), expected);
    assert_eq!(parse_options(expected), Ok(*options));
}

fn linux_syn_options() -> TcpOptions {
    TcpOptions {
        mss: Some(1460),
        window_scale: Some(7),
        sack_permitted: true,
        timestamps: Some((0x0102_0304, 0)),
        ..TcpOptions::default()
    }
}

#[test]
fn linux_syn_layout_is_byte_exact() {
    // tcpdump: [mss 1460,sackOK,TS val 16909060 ecr 0,nop,wscale 7]
    let expected = [
        0x02, 0x04, 0x05, 0xb4, // MSS 1460
        0x04, 0x02, 0x08, 0x0a, // SACK-permitted packed with the TS kind and length
        0x01, 0x02, 0x03, 0x04, // TSval
        0x00, 0x00, 0x00, 0x00, // TSecr
        0x01, 0x03, 0x03, 0x07, // NOP, window scale 7
    ];
    assert_emits_and_parses(&linux_syn_options(), true, &expected);
}

#[test]
fn syn_without_timestamps_uses_nop_nop_sack_permitted() {
    let options = TcpOptions {
        timestamps: None,
        ..linux_syn_options()
    };
    let expected = [0x02, 0x04, 0x05, 0xb4, 1, 1, 4, 2, 1, 3, 3, 7];
    assert_emits_and_parses(&options, true, &expected);
}

#[test]
fn syn_with_timestamps_without_sack_permitted() {
    let options = TcpOptions {
        sack_permitted: false,
        window_scale: None,
        ..linux_syn_options()
    };
    assert_eq!(
        emit(&options, true),
        [2, 4, 5, 0xb4, 1, 1, 8, 10, 1, 2, 3, 4, 0, 0, 0, 0]
    );
}

#[test]
fn data_segment_with_timestamps_is_byte_exact() {
    let options = TcpOptions {
        timestamps: Some((100, 0xdead_beef)),
        ..TcpOptions::default()
    };
    let expected = [1, 1, 8, 10, 0, 0, 0, 100, 0xde, 0xad, 0xbe, 0xef];
    assert_emits_and_parses(&options, false, &expected);
}

#[test]
fn syn_only_options_are_not_sent_on_other_segments() {
    let options = TcpOptions {
        timestamps: None,
        ..linux_syn_options()
    };
    assert_eq!(options_len(&options, false), 0);
    assert!(emit(&options, false).is_empty());
}

#[test]
fn sack_blocks_follow_timestamps_and_are_capped_at_three() {
    let mut options = TcpOptions {
        timestamps: Some((1, 2)),
        ..TcpOptions::default()
    };
    options.sack_blocks = [sack(10, 20), sack(30, 40), sack(50, 60), sack(70, 80)];
    options.sack_count = 4;
    let bytes = emit(&options, false);
    assert_eq!(bytes.len(), 40);
    assert_eq!(&bytes[12..16], &[1, 1, 5, 2 + 3 * 8]);
    assert_eq!(&bytes[16..24], &[0, 0, 0, 10, 0, 0, 0, 20]);
    let parsed = parse_options(&bytes).expect("own output parses");
    assert_eq!(parsed.sacks(), &options.sack_blocks[..3]);
    assert_eq!(parsed.timestamps, Some((1, 2)));
}

#[test]
fn four_sack_blocks_fit_without_timestamps() {
    let options = TcpOptions {
        sack_blocks: [sack(1, 2), sack(3, 4), sack(5, 6), sack(7, 8)],
        sack_count: 4,
        ..TcpOptions::default()
    };
    let bytes = emit(&options, false);
    assert_eq!(bytes.len(), 36);
    assert_eq!(parse_options(&bytes), Ok(options));
}

#[test]
fn sack_blocks_are_never_sent_on_syn_and_bad_counts_are_clamped() {
    let options = TcpOptions {
        sack_blocks: [sack(1, 2); 4],
        sack_count: 200,
        ..TcpOptions::default()
    };
    assert_eq!(options_len(&options, true), 0);
    assert_eq!(options_len(&options, false), 36);
}

#[test]
fn end_of_list_stops_parsing_and_unknown_kinds_are_skipped() {
    // Unknown kind 30 (MPTCP) of length 4, NOP, MSS, END, then garbage.
    let area = [30, 4, 0xaa, 0xbb, 1, 2, 4, 0x05, 0xb4, 0, 2, 0];
    let parsed = parse_options(&area).expect("valid area");
    assert_eq!(
        parsed,
        TcpOptions {
            mss: Some(1460),
            ..TcpOptions::default()
        }
    );
}

#[test]
fn malformed_lengths_are_rejected_with_kind_and_length() {
    let bad = |kind, length| Err(WireError::BadOptionLength { kind, length });
    assert_eq!(parse_options(&[2, 0, 0, 0]), bad(2, 0));
    assert_eq!(parse_options(&[30, 1, 0, 0]), bad(30, 1));
    assert_eq!(
        parse_options(&[1, 1, 1, 8]),
        bad(8, 0),
        "kind with no length byte"
    );
    assert_eq!(
        parse_options(&[8, 10, 0, 0]),
        bad(8, 10),
        "runs past the area"
    );
    assert_eq!(parse_options(&[2, 3, 5, 1]), bad(2, 3));
    assert_eq!(parse_options(&[3, 4, 7, 0]), bad(3, 4));
    assert_eq!(parse_options(&[4, 3, 0, 1]), bad(4, 3));
    assert_eq!(
        parse_options(&[1, 1, 5, 2]),
        bad(5, 2),
        "SACK with no block"
    );
    assert_eq!(
        parse_options(&[5, 6, 0, 0, 0, 0]),
        bad(5, 6),
        "SACK half a block"
    );
}

proptest::proptest! {
    /// The whole-area matches of `parse_options_into` give what the walk gives, for
    /// the layouts they recognise and for those layouts with a few bytes changed.
    #[test]
    fn whole_area_matches_are_the_walk(
        syn in proptest::prelude::any::<bool>(),
        changes in proptest::collection::vec((0..20usize, proptest::prelude::any::<u8>()), 0..3),
    ) {
        let mut area = if syn {
            emit(&linux_syn_options(), true)
        } else {
            emit(&TcpOptions { timestamps: Some((7, 9)), ..TcpOptions::default() }, false)
        };
        for (at, byte) in changes {
            let len = area.len();
            area[at % len] = byte;
        }
        let mut fast = TcpOptions::default();
        let fast = parse_options_into(&area, &mut fast).map(|()| fast);
        proptest::prop_assert_eq!(fast, parse_options_walk(&area));
    }
}

#[test]
fn emit_reports_short_buffer() {
    let mut buf = [0u8; 19];
    assert_eq!(
        emit_options(&linux_syn_options(), true, &mut buf),
        Err(WireError::BufferTooSmall {
            needed: 20,
            got: 19
        })
    );
}
