//! Two endpoints wired back to back: the basic lifecycle works end to end.

use std::net::{Ipv4Addr, SocketAddrV4};
use tcpwave::{Config, Duration, Endpoint, Event, Instant, State};

struct Pair {
    a: Endpoint,
    b: Endpoint,
    now: Instant,
    log: Vec<String>,
}

impl Pair {
    fn new() -> Pair {
        let now = Instant::ZERO;
        Pair {
            a: Endpoint::new(Config::default(), now),
            b: Endpoint::new(Config::default(), now),
            now,
            log: vec![],
        }
    }

    /// Exchange packets (1 ms one-way) and fire timers until `until`.
    fn drive(&mut self, until: Instant) {
        let mut buf = vec![0u8; 70_000];
        for _ in 0..100_000 {
            let mut moved = false;
            while let Some(n) = self.a.poll_transmit(self.now, &mut buf) {
                let (_, tcp, _) = tcpwave::wire::parse_ipv4_tcp(&buf[..n]).unwrap();
                self.log.push(format!(
                    "a>b {} seq={} ack={}",
                    tcp.flags.letters(),
                    tcp.seq,
                    tcp.ack
                ));
                self.b.handle_packet(self.now, &buf[..n]).unwrap();
                moved = true;
            }
            while let Some(n) = self.b.poll_transmit(self.now, &mut buf) {
                let (_, tcp, _) = tcpwave::wire::parse_ipv4_tcp(&buf[..n]).unwrap();
                self.log.push(format!(
                    "b>a {} seq={} ack={}",
                    tcp.flags.letters(),
                    tcp.seq,
                    tcp.ack
                ));
                self.a.handle_packet(self.now, &buf[..n]).unwrap();
                moved = true;
            }
            if moved {
                continue;
            }
            let next = [self.a.poll_timeout(), self.b.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= until => {
                    self.now = self.now.max(t);
                    self.a.handle_timeout(self.now);
                    self.b.handle_timeout(self.now);
                }
                _ => {
                    self.now = until;
                    return;
                }
            }
        }
        panic!("drive did not settle");
    }
}

fn states(ep: &mut Endpoint) -> Vec<(State, State)> {
    let mut out = vec![];
    while let Some(e) = ep.poll_event() {
        if let Event::StateChanged { from, to, .. } = e {
            out.push((from, to));
        }
    }
    out
}

#[test]
fn handshake_exchange_and_four_way_close() {
    let mut p = Pair::new();
    let server = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 2), 80);
    let client = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 1), 0);
    let l = p.b.listen(p.now, server, 16).unwrap();
    let c = p.a.connect(p.now, client, server).unwrap();
    p.drive(Instant::from_millis(10));
    assert_eq!(p.a.state(c), Some(State::Established), "{:#?}", p.log);
    let s = p.b.accept(p.now, l).unwrap();
    assert_eq!(p.b.state(s), Some(State::Established));
    assert_eq!(p.a.send(p.now, c, b"ping").unwrap(), 4);
    p.drive(Instant::from_millis(20));
    let mut buf = [0u8; 16];
    assert_eq!(p.b.recv(p.now, s, &mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ping");
    p.a.close(p.now, c).unwrap();
    p.drive(Instant::from_millis(30));
    assert_eq!(p.b.state(s), Some(State::CloseWait));
    assert_eq!(p.b.recv(p.now, s, &mut buf).unwrap(), 0, "EOF");
    p.b.close(p.now, s).unwrap();
    p.drive(Instant::from_millis(40));
    assert_eq!(p.a.time_wait_count(), 1, "{:#?}", p.log);
    assert_eq!(p.b.connection_count(), 0);
    p.drive(Instant::from_secs(61));
    assert_eq!(p.a.time_wait_count(), 0);
    let a_states = states(&mut p.a);
    use State::*;
    assert_eq!(
        a_states,
        vec![
            (Closed, SynSent),
            (SynSent, Established),
            (Established, FinWait1),
            (FinWait1, FinWait2),
            (FinWait2, TimeWait),
            (TimeWait, Closed)
        ],
        "{:#?}",
        p.log
    );
    let b_states = states(&mut p.b);
    assert_eq!(
        b_states,
        vec![
            (Listen, SynReceived),
            (SynReceived, Established),
            (Established, CloseWait),
            (CloseWait, LastAck),
            (LastAck, Closed)
        ]
    );
    let _ = Duration::ZERO;
}
