//! Hand-written traces of a few scenarios, built with [`Script`].

use super::script::{End, Script};
use tcpwave_trace::Trace;

const MS: u64 = 1_000;
const S: u64 = 1_000_000;

fn two_hosts(name: &str) -> Script {
    Script::new(
        name,
        &[
            ("client", "10.0.0.1", "client"),
            ("server", "10.0.0.2", "server"),
        ],
    )
}

const CLIENT: End = End {
    host: "client",
    port: 40000,
};
const SERVER: End = End {
    host: "server",
    port: 80,
};

/// Handshake between `c` and `s` starting at `t`, then 100 bytes from the client.
fn open(script: &mut Script, t: u64, c: End, s: End) {
    script.state(t, s, c, "LISTEN", "SYN_RECEIVED", "SYN received");
    script.app(t, c.host, "connect()");
    script.state(t, c, s, "CLOSED", "SYN_SENT", "connect()");
    script.deliver(t, c, s, "S", 0, 0, 0);
    script.deliver(t + 10 * MS, s, c, "SA", 0, 1, 0);
    script.state(
        t + 20 * MS,
        c,
        s,
        "SYN_SENT",
        "ESTABLISHED",
        "SYN-ACK received",
    );
    script.deliver(t + 20 * MS, c, s, "A", 1, 1, 0);
    script.state(
        t + 30 * MS,
        s,
        c,
        "SYN_RECEIVED",
        "ESTABLISHED",
        "ACK of SYN",
    );
    script.deliver(t + 40 * MS, c, s, "PA", 1, 1, 100);
    script.deliver(t + 50 * MS, s, c, "A", 1, 101, 0);
}

/// The client's final ACK is lost; the server retransmits its FIN after an RTO and the
/// client, in TIME_WAIT, re-ACKs it and restarts 2·MSL.
pub fn lost_final_ack() -> Trace {
    let mut s = two_hosts("lost-final-ack");
    s.app(0, "server", "listen()");
    s.state(
        0,
        SERVER,
        End {
            host: "server",
            port: 0,
        },
        "CLOSED",
        "LISTEN",
        "listen()",
    );
    open(&mut s, 0, CLIENT, SERVER);
    s.app(100 * MS, "client", "close()");
    s.state(
        100 * MS,
        CLIENT,
        SERVER,
        "ESTABLISHED",
        "FIN_WAIT_1",
        "close()",
    );
    s.deliver(100 * MS, CLIENT, SERVER, "FA", 101, 1, 0);
    s.state(
        110 * MS,
        SERVER,
        CLIENT,
        "ESTABLISHED",
        "CLOSE_WAIT",
        "FIN received",
    );
    s.app(110 * MS, "server", "read() = 0 (EOF)");
    s.deliver(110 * MS, SERVER, CLIENT, "A", 1, 102, 0);
    s.state(
        120 * MS,
        CLIENT,
        SERVER,
        "FIN_WAIT_1",
        "FIN_WAIT_2",
        "ACK of FIN",
    );
    s.app(130 * MS, "server", "close()");
    s.state(
        130 * MS,
        SERVER,
        CLIENT,
        "CLOSE_WAIT",
        "LAST_ACK",
        "close()",
    );
    s.deliver(130 * MS, SERVER, CLIENT, "FA", 1, 102, 0);
    s.state(
        140 * MS,
        CLIENT,
        SERVER,
        "FIN_WAIT_2",
        "TIME_WAIT",
        "FIN received",
    );
    s.lose(140 * MS, CLIENT, SERVER, "A", 102, 2, 0);
    s.timer(340 * MS, "server", "retransmission timer fired");
    s.deliver(340 * MS, SERVER, CLIENT, "FA", 1, 102, 0);
    s.timer(350 * MS, "client", "TIME_WAIT restarted");
    s.deliver(350 * MS, CLIENT, SERVER, "A", 102, 2, 0);
    s.state(360 * MS, SERVER, CLIENT, "LAST_ACK", "CLOSED", "ACK of FIN");
    s.state(
        60 * S + 350 * MS,
        CLIENT,
        SERVER,
        "TIME_WAIT",
        "CLOSED",
        "2MSL expired",
    );
    s.finish()
}

/// client -> load balancer -> backend, one request; the load balancer closes both sides
/// first and holds two TIME_WAITs.
pub fn three_hosts() -> Trace {
    let mut s = Script::new(
        "load-balancer-time-wait",
        &[
            ("client", "10.0.0.1", "client"),
            ("lb", "10.0.0.10", "load balancer"),
            ("backend", "10.0.1.1", "backend"),
        ],
    );
    let lb_front = End {
        host: "lb",
        port: 80,
    };
    let lb_back = End {
        host: "lb",
        port: 33000,
    };
    let backend = End {
        host: "backend",
        port: 8080,
    };
    open(&mut s, 0, CLIENT, lb_front);
    open(&mut s, 60 * MS, lb_back, backend);
    s.deliver(120 * MS, backend, lb_back, "PA", 1, 101, 200);
    s.deliver(130 * MS, lb_front, CLIENT, "PA", 1, 101, 200);
    close_first(&mut s, 140 * MS, lb_back, backend, (101, 201));
    close_first(&mut s, 140 * MS, lb_front, CLIENT, (201, 101));
    s.finish()
}

/// `closer` closes first at `t`, `peer` answers with its own FIN at once; `seqs` are the
/// two sides' relative sequence numbers at that point.
fn close_first(s: &mut Script, t: u64, closer: End, peer: End, seqs: (u32, u32)) {
    let (c, p) = seqs;
    s.state(t, closer, peer, "ESTABLISHED", "FIN_WAIT_1", "close()");
    s.deliver(t, closer, peer, "FA", c, p, 0);
    s.state(
        t + 10 * MS,
        peer,
        closer,
        "ESTABLISHED",
        "CLOSE_WAIT",
        "FIN received",
    );
    s.deliver(t + 10 * MS, peer, closer, "FA", p, c + 1, 0);
    s.state(
        t + 10 * MS,
        peer,
        closer,
        "CLOSE_WAIT",
        "LAST_ACK",
        "close()",
    );
    s.state(
        t + 20 * MS,
        closer,
        peer,
        "FIN_WAIT_1",
        "TIME_WAIT",
        "FIN+ACK received",
    );
    s.deliver(t + 20 * MS, closer, peer, "A", c + 1, p + 1, 0);
    s.state(
        t + 30 * MS,
        peer,
        closer,
        "LAST_ACK",
        "CLOSED",
        "ACK of FIN",
    );
    s.state(
        60 * S + t + 20 * MS,
        closer,
        peer,
        "TIME_WAIT",
        "CLOSED",
        "2MSL expired",
    );
}

/// An idle connection whose peer vanished: probes after 2 h, every 75 s, then a reset.
pub fn keepalive_dead_peer() -> Trace {
    let mut s = two_hosts("keepalive-dead-peer");
    open(&mut s, 0, CLIENT, SERVER);
    s.app(S, "server", "host vanished");
    let idle_end = 50 * MS + 7200 * S;
    for probe in 0..9u64 {
        let t = idle_end + probe * 75 * S;
        s.timer(t, "client", "keepalive probe due");
        s.lose(t, CLIENT, SERVER, "A", 100, 1, 0);
    }
    let t = idle_end + 9 * 75 * S;
    s.deliver(t, CLIENT, SERVER, "RA", 101, 1, 0);
    s.state(
        t,
        CLIENT,
        SERVER,
        "ESTABLISHED",
        "CLOSED",
        "keepalive: 9 probes unanswered",
    );
    s.app(t, "client", "recv() = ETIMEDOUT");
    s.finish()
}
