//! Captures in the classic pcap format, readable by Wireshark, tshark and tcpdump.
//!
//! A capture holds what one place saw: at a host, every segment it sent and every segment
//! it received (a segment lost on the way is in the sender's capture only); on the wire,
//! every segment sent. Packets are the engine's own IPv4 bytes (checksums and options as
//! sent), so the capture needs no link layer: LINKTYPE_RAW (101), one IPv4 packet per
//! record. Timestamps are the virtual clock: microseconds since the run started, written
//! as seconds since the Unix epoch (so a run starts on 1970-01-01 00:00:00).
//!
//! Format: <https://www.tcpdump.org/manpages/pcap-savefile.5.txt> and
//! <https://www.tcpdump.org/linktypes.html>.

use std::fmt;
use std::io::{self, Write};

use crate::model::{Body, Trace};

/// Magic number of a pcap file with microsecond timestamps, written in our byte order.
const MAGIC_MICROS: u32 = 0xa1b2_c3d4;
/// LINKTYPE_RAW: each packet begins with an IPv4 or IPv6 header.
pub const LINKTYPE_RAW: u32 = 101;
/// The largest packet the capture keeps whole (the largest IPv4 packet).
const SNAPLEN: u32 = 65_535;

/// Where the capture is taken.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaptureAt {
    /// Every segment any host sent (lost ones included), at the time it was sent.
    Wire,
    /// What the named host sent and received, at the times it did.
    Host(String),
}

impl CaptureAt {
    /// Parses the command-line form: `wire` or a host name.
    pub fn parse(text: &str) -> CaptureAt {
        if text == "wire" {
            CaptureAt::Wire
        } else {
            CaptureAt::Host(text.to_string())
        }
    }
}

impl fmt::Display for CaptureAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureAt::Wire => f.write_str("wire"),
            CaptureAt::Host(name) => f.write_str(name),
        }
    }
}

/// Why a capture could not be written.
#[derive(Debug)]
pub enum PcapError {
    /// `--pcap-at` named a host the scenario does not have.
    UnknownHost { name: String, known: Vec<String> },
    /// A segment event has no packet bytes (traces read back from JSON carry none).
    MissingPacket {
        event: usize,
        host: String,
        t_us: u64,
    },
    /// A packet is larger than a pcap record of this file can hold.
    PacketTooLong { event: usize, len: usize },
    /// Writing the output failed.
    Io(io::Error),
}

impl fmt::Display for PcapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PcapError::UnknownHost { name, known } => write!(
                f,
                "no host named {name:?} in this scenario; capture at one of: {}, or \"wire\"",
                known.join(", ")
            ),
            PcapError::MissingPacket { event, host, t_us } => write!(
                f,
                "event {event} (at {host}, {}) has no packet bytes; traces read back from \
                 JSON carry none, so capture from a fresh run",
                crate::model::fmt_time(*t_us)
            ),
            PcapError::PacketTooLong { event, len } => {
                write!(
                    f,
                    "event {event}: packet of {len} bytes exceeds the snap length {SNAPLEN}"
                )
            }
            PcapError::Io(e) => write!(f, "cannot write the capture: {e}"),
        }
    }
}

impl std::error::Error for PcapError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PcapError::Io(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for PcapError {
    fn from(e: io::Error) -> PcapError {
        PcapError::Io(e)
    }
}

/// One captured packet: when it was seen, by which event, and its IPv4 bytes.
#[derive(Clone, Copy, Debug)]
pub struct Captured<'a> {
    pub t_us: u64,
    pub event: usize,
    pub packet: &'a [u8],
}

/// The packets seen `at` a place, in time order (ties in trace order).
pub fn packets<'a>(trace: &'a Trace, at: &CaptureAt) -> Result<Vec<Captured<'a>>, PcapError> {
    if let CaptureAt::Host(name) = at {
        if !trace.hosts.iter().any(|h| &h.name == name) {
            return Err(PcapError::UnknownHost {
                name: name.clone(),
                known: trace.hosts.iter().map(|h| h.name.clone()).collect(),
            });
        }
    }
    let mut seen = Vec::new();
    for (index, event) in trace.events.iter().enumerate() {
        let segment = match (&event.body, at) {
            (Body::Send(s), CaptureAt::Wire) => s,
            (Body::Send(s) | Body::Recv(s), CaptureAt::Host(name)) if &event.host == name => s,
            _ => continue,
        };
        if segment.packet.is_empty() {
            return Err(PcapError::MissingPacket {
                event: index,
                host: event.host.clone(),
                t_us: event.t_us,
            });
        }
        if segment.packet.len() > SNAPLEN as usize {
            return Err(PcapError::PacketTooLong {
                event: index,
                len: segment.packet.len(),
            });
        }
        seen.push(Captured {
            t_us: event.t_us,
            event: index,
            packet: &segment.packet,
        });
    }
    seen.sort_by_key(|c| (c.t_us, c.event));
    Ok(seen)
}

/// Writes the capture taken `at` a place to `out`; returns the number of packets.
pub fn write(trace: &Trace, at: &CaptureAt, out: &mut dyn Write) -> Result<usize, PcapError> {
    let seen = packets(trace, at)?;
    let mut header = Vec::with_capacity(24);
    header.extend_from_slice(&MAGIC_MICROS.to_le_bytes());
    header.extend_from_slice(&2u16.to_le_bytes()); // version 2.4
    header.extend_from_slice(&4u16.to_le_bytes());
    header.extend_from_slice(&0i32.to_le_bytes()); // thiszone: UTC
    header.extend_from_slice(&0u32.to_le_bytes()); // sigfigs
    header.extend_from_slice(&SNAPLEN.to_le_bytes());
    header.extend_from_slice(&LINKTYPE_RAW.to_le_bytes());
    out.write_all(&header)?;
    for packet in &seen {
        // The length was checked against SNAPLEN, so it fits in u32.
        let len = packet.packet.len() as u32;
        let seconds = u32::try_from(packet.t_us / 1_000_000).unwrap_or(u32::MAX);
        let mut record = Vec::with_capacity(16 + packet.packet.len());
        record.extend_from_slice(&seconds.to_le_bytes());
        record.extend_from_slice(&((packet.t_us % 1_000_000) as u32).to_le_bytes());
        record.extend_from_slice(&len.to_le_bytes()); // captured length
        record.extend_from_slice(&len.to_le_bytes()); // length on the wire
        record.extend_from_slice(packet.packet);
        out.write_all(&record)?;
    }
    out.flush()?;
    Ok(seen.len())
}

/// The capture taken `at` a place, as the bytes of a pcap file.
pub fn to_bytes(trace: &Trace, at: &CaptureAt) -> Result<Vec<u8>, PcapError> {
    let mut out = Vec::new();
    write(trace, at, &mut out)?;
    Ok(out)
}
