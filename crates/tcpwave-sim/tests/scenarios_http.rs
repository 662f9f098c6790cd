//! HTTP/1.0 (a connection per request) against HTTP/1.1 keep-alive.

mod support;
use support::*;
use tcpwave_trace::Trace;

fn fig(t: &Trace, name: &str) -> f64 {
    t.outcome
        .figures
        .iter()
        .find(|f| f.name == name)
        .map(|f| f.value)
        .unwrap_or_else(|| panic!("no figure {name:?}"))
}

#[test]
fn keep_alive_needs_one_connection_where_http_1_0_needs_a_thousand() {
    let t = run("http-keep-alive");
    let old = "HTTP/1.0";
    let new = "HTTP/1.1 keep-alive";
    assert_eq!(fig(&t, &format!("{old}: requests")), 1000.0);
    assert_eq!(fig(&t, &format!("{new}: requests")), 1000.0);
    // HTTP/1.0: the server ends each response by closing, so it holds the TIME_WAIT.
    assert_eq!(
        fig(&t, &format!("{old}: connections per 1000 requests")),
        1000.0
    );
    assert_eq!(
        fig(&t, &format!("{old}: server TIME_WAIT per 1000 requests")),
        1000.0
    );
    assert_eq!(
        fig(&t, &format!("{old}: client TIME_WAIT per 1000 requests")),
        0.0
    );
    // Keep-alive: one connection; the client closes it at the end and keeps its one entry.
    assert_eq!(
        fig(&t, &format!("{new}: connections per 1000 requests")),
        1.0
    );
    assert_eq!(
        fig(&t, &format!("{new}: server TIME_WAIT per 1000 requests")),
        0.0
    );
    assert_eq!(
        fig(&t, &format!("{new}: client TIME_WAIT per 1000 requests")),
        1.0
    );
    // Two round trips per request (handshake, exchange) against one.
    assert_eq!(fig(&t, &format!("{old}: time for all requests")), 40.0);
    assert_eq!(fig(&t, &format!("{new}: time for all requests")), 20.02);
}

#[test]
fn an_http_1_0_exchange_ends_with_the_server_closing() {
    let t = run("http-keep-alive");
    let all = sent_between(&t, "client-1.0", "server-1.0");
    let first: Vec<_> = all.iter().take(7).cloned().collect();
    assert_eq!(
        first,
        [
            seg("client-1.0", "S", 0, 0, 0),
            seg("server-1.0", "SA", 0, 1, 0),
            seg("client-1.0", "A", 1, 1, 0),
            seg("client-1.0", "PA", 1, 1, 33),
            seg("server-1.0", "A", 1, 34, 0),
            // The response and the server's FIN in one segment.
            seg("server-1.0", "FPA", 1, 34, 77),
            // The client reads EOF and closes at once: its FIN carries the ACK that
            // Linux delayed on entering CLOSE_WAIT (pingpong).
            seg("client-1.0", "FA", 34, 79, 0),
        ]
    );
    // The server's TIME_WAIT ACK (after the next request's SYN, which leaves at once).
    assert_eq!(all[8], seg("server-1.0", "A", 79, 35, 0));
    assert_eq!(
        path_of(&t, "server-1.0", "192.0.2.1")[..5],
        [
            "LISTEN>SYN_RECEIVED",
            "SYN_RECEIVED>ESTABLISHED",
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>TIME_WAIT"
        ]
    );
    // HTTP/1.1: the second request goes on the same connection.
    let keep: Vec<_> = sent_between(&t, "client-1.1", "server-1.1")
        .into_iter()
        .filter(|s| s.0 == "client-1.1" && s.4 > 0)
        .take(2)
        .collect();
    assert_eq!(
        keep,
        [
            seg("client-1.1", "PA", 1, 1, 33),
            seg("client-1.1", "PA", 34, 83, 33)
        ]
    );
}
