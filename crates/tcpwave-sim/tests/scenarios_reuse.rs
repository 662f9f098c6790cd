//! What TIME_WAIT protects against, with and without it.

mod support;
use support::*;
use tcpwave_trace::{Body, Trace};

#[test]
fn old_duplicate_dies_in_time_wait_but_corrupts_a_new_incarnation_without_it() {
    let t = run("time-wait-old-duplicate");
    let seen = saw(&t);
    let with = |host: &str, text: &str| {
        seen.iter()
            .any(|s| s.starts_with(&format!("{host}:")) && s.contains(text))
    };
    assert!(
        with("client", "connection 1 delivered \"OLD-1|OLD-2|OLD-3|\""),
        "{seen:?}"
    );
    assert!(
        with("client", "EADDRNOTAVAIL"),
        "TIME_WAIT holds the 4-tuple: {seen:?}"
    );
    assert!(!with("client", "connection 2"), "{seen:?}");
    assert!(
        with(
            "client-no-tw",
            "connection 2 delivered \"new-1|OLD-2|new-3|\""
        ),
        "corrupted data: {seen:?}"
    );
    // The straggler reached the TIME_WAIT entry and was answered with an ACK, not data.
    let straggler = t
        .events
        .iter()
        .find(|e| e.host == "client" && matches!(&e.body, tcpwave_trace::Body::Recv(s) if s.len == 6 && s.rel_seq == 7 && e.t_us > SEC))
        .expect("the delayed segment reaches the client");
    assert!(t.events.iter().any(|e| e.host == "client"
        && e.t_us == straggler.t_us
        && matches!(&e.body, tcpwave_trace::Body::Timer(_))));
}

#[test]
fn paws_also_rejects_the_old_duplicate_when_timestamps_are_on() {
    let t = run_with("time-wait-old-duplicate", &["tcp_timestamps=1"]);
    let seen = saw(&t);
    assert!(
        seen.iter()
            .any(|s| s.starts_with("client-no-tw:") && s.contains("\"new-1|new-2|new-3|\"")),
        "{seen:?}"
    );
}

#[test]
fn without_time_wait_a_reconnect_hits_the_stale_last_ack() {
    let t = run("no-time-wait-reconnect");
    let seen = saw(&t);
    assert!(
        seen.iter()
            .any(|s| s.starts_with("client:") && s.contains("EADDRNOTAVAIL")),
        "{seen:?}"
    );
    // The no-TIME_WAIT server's LAST_ACK is reset by the client's reply to its ACK.
    assert_eq!(
        path_of(&t, "server-no-tw", "198.51.100.1:40000")[..5],
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>CLOSE_WAIT",
            "CLOSE_WAIT>LAST_ACK",
            "LAST_ACK>CLOSED"
        ]
    );
    let reset = t.events.iter().any(|e| e.host == "server-no-tw" && matches!(&e.body, tcpwave_trace::Body::State(s) if s.from == "LAST_ACK" && s.reason == "rcv RST"));
    assert!(reset);
    let b = sent_between(&t, "client-no-tw", "server-no-tw");
    let syn_at = 1 + b[1..]
        .iter()
        .position(|s| s.0 == "client-no-tw" && s.1 == "S")
        .unwrap();
    assert_eq!(b[syn_at + 1].0, "server-no-tw");
    assert_eq!(
        b[syn_at + 1].1,
        "A",
        "the stale LAST_ACK answers the SYN with an ACK"
    );
    assert_eq!(b[syn_at + 2].1, "R", "which the client resets");
    let reconnected = seen
        .iter()
        .find(|s| s.starts_with("client-no-tw:") && s.contains("reconnected at"))
        .unwrap();
    assert!(
        reconnected.ends_with("1.120s"),
        "the connect is delayed by the SYN's 1 s RTO: {reconnected}"
    );
    // With TIME_WAIT the retransmitted FIN is answered from TIME_WAIT.
    assert_eq!(path(&t, "server").last().unwrap(), "LAST_ACK>CLOSED");
}

#[test]
fn the_old_duplicate_scenario_says_which_protections_it_turns_off() {
    // It sets isn_clock=0 and tcp_timestamps=0 so that the old segment gets in; the drawn
    // description says so, and how to see Linux's defaults protect the new incarnation.
    let t = run("time-wait-old-duplicate");
    let d = &t.description;
    assert!(
        d.contains("isn_clock=0") && d.contains("tcp_timestamps=0"),
        "{d}"
    );
    assert!(
        d.contains("--set isn_clock=1 --set tcp_timestamps=1"),
        "{d}"
    );
    // The SVG's subtitle shows about 240 characters at four hosts.
    assert!(
        d.chars().count() <= 240,
        "{} characters: {d}",
        d.chars().count()
    );
    let svg = tcpwave_trace::svg::render(&t, &Default::default());
    assert!(
        svg.contains("tcp_timestamps=1)"),
        "the whole description is drawn"
    );

    let protected = run_with(
        "time-wait-old-duplicate",
        &["isn_clock=1", "tcp_timestamps=1"],
    );
    assert!(
        protected.description.contains("Linux defaults"),
        "{}",
        protected.description
    );
    for settings in [&["isn_clock=1"][..], &["isn_clock=1", "tcp_timestamps=1"]] {
        let seen = saw(&run_with("time-wait-old-duplicate", settings));
        assert!(
            seen.iter()
                .any(|s| s.starts_with("client-no-tw:") && s.contains("\"new-1|new-2|new-3|\"")),
            "{settings:?}: {seen:?}"
        );
    }
}

#[test]
fn with_time_wait_the_old_duplicate_is_drawn_arriving_and_no_rst_kills_time_wait() {
    let t = run("time-wait-old-duplicate");
    // tcp_rfc1337=1 on the TIME_WAIT pair: the closed server's RST to TIME_WAIT's ACK is
    // ignored, and the entry lives its 60 s from the restart.
    assert_eq!(counter(&t, "client", "TWKilled"), 0);
    let client = path(&t, "client");
    assert!(!client
        .iter()
        .any(|p| p.contains("TIME_WAIT>CLOSED") && p.contains("RST")));
    let closed = t
        .events
        .iter()
        .find_map(|e| match &e.body {
            tcpwave_trace::Body::State(s)
                if e.host == "client" && s.from == "TIME_WAIT" && s.to == "CLOSED" =>
            {
                Some((e.t_us, s.reason.clone()))
            }
            _ => None,
        })
        .expect("TIME_WAIT ends");
    assert_eq!(closed.1, "2MSL expired");
    assert!(closed.0 > 61 * SEC, "{closed:?}");
    assert!(t.description.contains("tcp_rfc1337=1"), "{}", t.description);
    // The terminal draws the held-up segment where it lands.
    let view = tcpwave_trace::terminal::TerminalOptions {
        color: false,
        absolute: false,
        options: false,
    };
    let text = tcpwave_trace::terminal::render(&t, &view);
    let arrival = text
        .lines()
        .find(|l| l.contains("arrives, sent at"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(arrival.trim_start().starts_with("1.541s"), "{arrival}");
    assert!(arrival.contains("len=6"), "{arrival}");
    // With tcp_rfc1337=0 the run shows the assassination and says so.
    let killed = run_with("time-wait-old-duplicate", &["tcp_rfc1337=0"]);
    let ended_by_rst = |t: &Trace| {
        t.events.iter().any(|e| {
            e.host == "client"
                && matches!(&e.body, Body::State(c)
                    if c.from == "TIME_WAIT" && c.to == "CLOSED" && c.reason == "rcv RST")
        })
    };
    assert!(ended_by_rst(&killed), "rfc1337=0: the RST ends TIME_WAIT");
    assert!(!ended_by_rst(&t), "rfc1337=1: TIME_WAIT runs its course");
    assert!(
        killed.description.contains("RST ends TIME_WAIT early"),
        "{}",
        killed.description
    );
}

#[test]
fn the_stale_last_acks_answer_is_numbered_from_the_old_connection_with_a_note() {
    let t = run("no-time-wait-reconnect");
    let stale: Vec<_> = t
        .sent()
        .filter(|(_, s)| s.note.is_some())
        .map(|(e, s)| (e.host.clone(), s.flags.clone(), s.rel_seq, s.rel_ack))
        .collect();
    // The server's ACK from LAST_ACK and the client's RST in reply, counted from the old
    // connection's ISNs: the request (18 bytes) and FIN of each side.
    assert_eq!(
        stale,
        [
            ("server-no-tw".to_string(), "A".to_string(), 27, 20),
            ("client-no-tw".to_string(), "R".to_string(), 20, 0),
        ]
    );
    for (_, s) in t.sent() {
        assert!(s.rel_seq < 1 << 20 && s.rel_ack < 1 << 20, "{s:?}");
    }
    // The note travels with the numbers: in the SVG's tooltip of each such arrow and in
    // the HTML page's event table, as in the terminal.
    let note = t.sent().find_map(|(_, s)| s.note.clone()).unwrap();
    let options = tcpwave_trace::svg::SvgOptions::default();
    let svg = tcpwave_trace::svg::render(&t, &options);
    assert_eq!(svg.matches(&format!("({note})")).count(), 2, "{note}");
    let page = tcpwave_trace::html::render(&t, &options);
    // Event rows end in two spaces and the note (the SVG titles inside use one).
    assert!(page.matches(&format!("  ({note})")).count() >= 2, "{note}");
}

#[test]
fn time_wait_snapshots_report_the_receive_window_in_bytes() {
    let t = run("four-way-close");
    let block = |state: &str| {
        t.snapshots
            .iter()
            .flat_map(|s| &s.blocks)
            .rfind(|b| b.host == "client" && b.state == state)
            .unwrap_or_else(|| panic!("a {state} block"))
            .clone()
    };
    let time_wait = block("TIME_WAIT");
    // The final ACK's raw window field, scaled by the client's wscale 7 (it offered 7 on
    // its SYN, the server offered one too): the bytes TIME_WAIT's ACKs advertise.
    let (_, final_ack) = t.sent().filter(|(e, _)| e.host == "client").last().unwrap();
    assert_eq!(
        time_wait.rcv_wnd,
        u32::from(final_ack.win) << 7,
        "{time_wait:?}"
    );
    assert!(
        time_wait.rcv_wnd > 60_000,
        "bytes, not the raw field: {time_wait:?}"
    );
}
