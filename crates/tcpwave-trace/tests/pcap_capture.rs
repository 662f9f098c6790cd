//! Captures: what each place saw, in a file that tshark reads without complaint.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use support::fixtures;
use tcpwave_sim::scenarios::{self, RunOptions};
use tcpwave_trace::pcap::{self, CaptureAt, PcapError};
use tcpwave_trace::{Body, Trace};

fn default_run(name: &str) -> Trace {
    let options = RunOptions {
        seed: 1,
        settings: Vec::new(),
    };
    scenarios::run(name, &options).unwrap_or_else(|e| panic!("scenario {name}: {e}"))
}

/// (seconds, microseconds, packet) of every record, checking the file header.
fn records(bytes: &[u8]) -> Vec<(u32, u32, Vec<u8>)> {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap());
    assert_eq!(word(0), 0xa1b2_c3d4, "magic: microsecond pcap");
    assert_eq!(&bytes[4..8], &[2, 0, 4, 0], "version 2.4");
    assert_eq!(word(20), 101, "LINKTYPE_RAW");
    let mut out = Vec::new();
    let mut at = 24;
    while at < bytes.len() {
        let (sec, usec, incl, orig) = (
            word(at),
            word(at + 4),
            word(at + 8) as usize,
            word(at + 12) as usize,
        );
        assert_eq!(incl, orig, "whole packets");
        out.push((sec, usec, bytes[at + 16..at + 16 + incl].to_vec()));
        at += 16 + incl;
    }
    out
}

#[test]
fn a_lost_segment_is_only_where_it_was_seen() {
    let trace = fixtures::lost_final_ack();
    let lost_id = trace
        .events
        .iter()
        .find_map(|e| match &e.body {
            Body::Drop(s) => Some(s.id),
            _ => None,
        })
        .unwrap();
    let lost_packet = trace
        .sent()
        .find(|(_, s)| s.id == lost_id)
        .map(|(_, s)| s.packet.clone())
        .unwrap();
    let holds_lost = |at: &CaptureAt| {
        let bytes = pcap::to_bytes(&trace, at).unwrap();
        records(&bytes).iter().any(|(_, _, p)| *p == lost_packet)
    };
    assert!(holds_lost(&CaptureAt::Wire));
    assert!(
        holds_lost(&CaptureAt::Host("client".into())),
        "the sender saw it"
    );
    assert!(
        !holds_lost(&CaptureAt::Host("server".into())),
        "the receiver never did"
    );
    let wire = records(&pcap::to_bytes(&trace, &CaptureAt::Wire).unwrap());
    assert_eq!(wire.len(), trace.sent().count());
    let times: Vec<u64> = wire
        .iter()
        .map(|(s, u, _)| *s as u64 * 1_000_000 + *u as u64)
        .collect();
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
    assert_eq!(
        times.last(),
        Some(&350_000),
        "virtual clock: the last ACK is sent at 0.350 s"
    );
}

#[test]
fn unknown_host_and_missing_bytes_are_explained() {
    let trace = fixtures::lost_final_ack();
    let err = pcap::to_bytes(&trace, &CaptureAt::parse("router")).unwrap_err();
    assert!(matches!(err, PcapError::UnknownHost { .. }));
    assert!(err.to_string().contains("client, server"), "{err}");
    let json = serde_json::to_string(&trace).unwrap();
    let reread: Trace = serde_json::from_str(&json).unwrap();
    let err = pcap::to_bytes(&reread, &CaptureAt::Wire).unwrap_err();
    assert!(err.to_string().contains("fresh run"), "{err}");
}

/// Runs tshark and returns its stdout, failing on a nonzero exit or anything on stderr.
fn tshark(file: &Path, args: &[&str]) -> String {
    let output = Command::new("tshark")
        .arg("-r")
        .arg(file)
        .args(args)
        .env("LC_ALL", "C")
        .output()
        .expect("run tshark");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stderr: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.contains("Running as user \"root\""))
        .collect();
    assert!(
        output.status.success() && stderr.is_empty(),
        "tshark {args:?} on {}: {stderr:?}",
        file.display()
    );
    String::from_utf8(output.stdout).expect("utf-8")
}

/// The conversations Wireshark finds in the packets of a capture: one per address pair,
/// plus a new one whenever a SYN (without ACK) carries another sequence number than the
/// ISN that direction had in the current conversation (reuse of the 4-tuple by a new
/// incarnation, or a forged SYN).
fn conversations(trace: &Trace, at: &CaptureAt) -> usize {
    // (from, to) -> sequence number of the first segment that way in the conversation
    let mut base: BTreeMap<(String, String), u32> = BTreeMap::new();
    let mut pairs: BTreeSet<[String; 2]> = BTreeSet::new();
    let mut count = 0;
    for c in pcap::packets(trace, at).unwrap() {
        let seg = match &trace.events[c.event].body {
            Body::Send(s) | Body::Recv(s) => s,
            _ => unreachable!(),
        };
        let mut ends = [seg.src.clone(), seg.dst.clone()];
        ends.sort();
        if pairs.insert(ends) {
            count += 1;
        }
        let way = (seg.src.clone(), seg.dst.clone());
        let back = (seg.dst.clone(), seg.src.clone());
        let syn_only = seg.flags.contains('S') && !seg.flags.contains('A');
        match base.get(&way) {
            Some(&first) if syn_only && first != seg.seq => {
                count += 1;
                base.remove(&back);
                base.insert(way, seg.seq);
            }
            Some(_) => {}
            // Wireshark's base is the ISN: the SYN's number, or one below the first
            // segment's when the capture starts without a SYN that way.
            None => {
                let isn = if seg.flags.contains('S') {
                    seg.seq
                } else {
                    seg.seq.wrapping_sub(1)
                };
                base.insert(way, isn);
            }
        }
    }
    count
}

#[test]
fn tshark_reads_every_capture_without_complaint() {
    if !support::tool_available("tshark", "tshark_reads_every_capture_without_complaint") {
        return;
    }
    let dir = support::out_dir();
    for info in scenarios::list() {
        let trace = default_run(info.name);
        let places = std::iter::once(CaptureAt::Wire)
            .chain(trace.hosts.iter().map(|h| CaptureAt::Host(h.name.clone())));
        for at in places {
            let file = dir.join(format!("{}-{at}.pcap", info.name));
            let count = pcap::packets(&trace, &at).unwrap().len();
            std::fs::write(&file, pcap::to_bytes(&trace, &at).unwrap()).unwrap();
            let bad = tshark(
                &file,
                &[
                    "-o",
                    "tcp.check_checksum:TRUE",
                    "-o",
                    "ip.check_checksum:TRUE",
                    "-Y",
                    "tcp.checksum.status==2 || ip.checksum.status==2 || _ws.malformed || _ws.expert.severity >= error",
                ],
            );
            assert!(
                bad.is_empty(),
                "{} at {at}: tshark reports\n{bad}",
                info.name
            );
            let frames = tshark(&file, &["-T", "fields", "-e", "frame.number"]);
            assert_eq!(
                frames.lines().count(),
                count,
                "{} at {at}: every packet read",
                info.name
            );
            let conv = tshark(&file, &["-q", "-z", "conv,tcp"]);
            let listed = conv.lines().filter(|l| l.contains("<->")).count();
            assert_eq!(
                listed,
                conversations(&trace, &at),
                "{} at {at}: conversations\n{conv}",
                info.name
            );
        }
    }
}

#[test]
fn tshark_sees_the_retransmitted_fin_at_the_server() {
    if !support::tool_available("tshark", "tshark_sees_the_retransmitted_fin_at_the_server") {
        return;
    }
    let trace = default_run("lost-final-ack");
    let at = CaptureAt::Host("server".into());
    let file = support::out_dir().join("lost-final-ack-server-retransmission.pcap");
    std::fs::write(&file, pcap::to_bytes(&trace, &at).unwrap()).unwrap();
    let fins = tshark(
        &file,
        &[
            "-Y",
            "tcp.flags.fin==1",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "ip.src",
        ],
    );
    let retransmitted = tshark(
        &file,
        &[
            "-Y",
            "tcp.analysis.retransmission",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "tcp.flags.fin",
        ],
    );
    let server_fins: Vec<&str> = fins.lines().filter(|l| l.ends_with("192.0.2.2")).collect();
    assert_eq!(
        server_fins.len(),
        2,
        "the server sent its FIN twice:\n{fins}"
    );
    let second = server_fins[1].split('\t').next().unwrap();
    let marked: Vec<&str> = retransmitted.lines().collect();
    assert_eq!(
        marked.len(),
        1,
        "exactly one retransmission:\n{retransmitted}"
    );
    assert!(
        marked[0].starts_with(&format!("{second}\t")),
        "the second FIN is the retransmission: {marked:?}"
    );
    assert!(
        marked[0].ends_with("\t1") || marked[0].ends_with("True"),
        "it is a FIN: {marked:?}"
    );
}

#[test]
fn tshark_sees_virtual_times_and_the_real_options() {
    if !support::tool_available("tshark", "tshark_sees_virtual_times_and_the_real_options") {
        return;
    }
    let trace = default_run("three-way-handshake");
    let file = support::out_dir().join("three-way-handshake-options.pcap");
    std::fs::write(&file, pcap::to_bytes(&trace, &CaptureAt::Wire).unwrap()).unwrap();
    let fields = tshark(
        &file,
        &[
            "-T",
            "fields",
            "-E",
            "separator=,",
            "-e",
            "frame.time_epoch",
            "-e",
            "tcp.options.mss_val",
            "-e",
            "tcp.options.wscale.shift",
            "-e",
            "tcp.options.timestamp.tsval",
        ],
    );
    let sent: Vec<_> = trace.sent().collect();
    let lines: Vec<&str> = fields.lines().collect();
    assert_eq!(lines.len(), sent.len());
    for ((event, seg), line) in sent.iter().zip(&lines) {
        let parts: Vec<&str> = line.split(',').collect();
        let epoch: f64 = parts[0].parse().expect("a time");
        assert!(
            (epoch - event.t_us as f64 / 1e6).abs() < 1e-6,
            "virtual time of {line}"
        );
        if seg.flags.contains('S') {
            assert!(
                seg.options.contains(&format!("mss {}", parts[1])),
                "MSS {line} vs {}",
                seg.options
            );
            assert!(
                seg.options.contains(&format!("wscale {}", parts[2])),
                "wscale {line} vs {}",
                seg.options
            );
        }
        if !parts[3].is_empty() {
            assert!(
                seg.options.contains(&format!("TS val {} ", parts[3])),
                "TSval {line} vs {}",
                seg.options
            );
        }
    }
}
