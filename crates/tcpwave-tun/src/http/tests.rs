use super::*;
use std::io::Cursor;

/// An in-memory connection: reads from `input`, collects writes.
struct Pipe {
    input: Cursor<Vec<u8>>,
    output: Vec<u8>,
}

impl Read for Pipe {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Pipe {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.output.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn serve(input: &str) -> (usize, String) {
    let mut pipe = Pipe {
        input: Cursor::new(input.as_bytes().to_vec()),
        output: Vec::new(),
    };
    let served = serve_connection(&mut pipe, &|| "netstat\n".to_string()).unwrap();
    (served, String::from_utf8(pipe.output).unwrap())
}

#[test]
fn keep_alive_serves_pipelined_requests_until_close() {
    let (served, out) = serve(
        "GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /bytes/70 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(served, 2);
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    assert!(
        out.contains("Content-Length: 70\r\nConnection: close\r\n\r\n0123"),
        "{out}"
    );
    assert!(out.ends_with("+\n012345"), "{out}");
}

#[test]
fn http_1_0_closes_and_unknown_routes_are_404() {
    let (served, out) = serve("GET /nope HTTP/1.0\r\n\r\nGET / HTTP/1.0\r\n\r\n");
    assert_eq!(served, 1);
    assert!(out.starts_with("HTTP/1.1 404 Not Found"), "{out}");
    assert!(out.contains("Connection: close"));
}

#[test]
fn bodies_are_discarded_and_bad_requests_answered() {
    let (served, out) = serve(
        "POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabcGET / HTTP/1.1\r\n\r\nGARBAGE\r\n\r\n",
    );
    assert_eq!(served, 2);
    assert!(out.starts_with("HTTP/1.1 405"), "{out}");
    assert!(out.contains("400 Bad Request"), "{out}");
}

#[test]
fn pattern_bytes_match_write_pattern() {
    let mut out = Vec::new();
    write_pattern(&mut out, 200_000).unwrap();
    assert_eq!(out.len(), 200_000);
    assert!(out
        .iter()
        .enumerate()
        .all(|(i, &b)| b == pattern_byte(i as u64)));
}

/// A connection that records every write call separately.
struct Writes {
    response: Cursor<Vec<u8>>,
    calls: Vec<Vec<u8>>,
}

impl Read for Writes {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.response.read(buf)
    }
}

impl Write for Writes {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.calls.push(buf.to_vec());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[test]
fn get_sends_its_request_in_one_write() {
    let mut conn = Writes {
        response: Cursor::new(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi".to_vec()),
        calls: Vec::new(),
    };
    let response = get(&mut conn, "192.0.2.1", "/").unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hi");
    // One write, so one segment on the wire (not "GET " and then the rest).
    assert_eq!(conn.calls.len(), 1, "{:?}", conn.calls);
    assert_eq!(
        conn.calls[0],
        b"GET / HTTP/1.1\r\nHost: 192.0.2.1\r\nUser-Agent: tcpwave\r\nConnection: close\r\n\r\n"
    );
}
