//! The application's reads and writes on one connection.

use super::buffers::BufferPool;
use super::{Conn, Ctx};
use crate::error::Error;
use crate::state::State;

impl Conn {
    /// Queue bytes for sending; returns how many were taken.
    pub(crate) fn app_send(&mut self, data: &[u8], pool: &mut BufferPool) -> Result<usize, Error> {
        if let Some(err) = self.error {
            return Err(err);
        }
        match self.state {
            State::Established | State::CloseWait if self.fin_seq.is_none() => {}
            State::SynSent | State::SynReceived => return Err(Error::WouldBlock),
            State::Closed => return Err(Error::NotConnected),
            _ => return Err(Error::BrokenPipe),
        }
        let taken = self.send.push(data, pool);
        self.write_seq += taken;
        if taken < data.len() {
            self.writable_wanted = true;
        }
        if taken == 0 && !data.is_empty() {
            return Err(Error::WouldBlock);
        }
        Ok(taken)
    }

    /// Read in-order bytes. `Ok(0)` is end of file (the peer's FIN was read).
    pub(crate) fn app_recv(&mut self, ctx: &mut Ctx<'_>, buf: &mut [u8]) -> Result<usize, Error> {
        if self.recv.ready() > 0 {
            let before = self.promised_window().max(self.offered_window());
            let n = self.recv.read(buf);
            self.maybe_window_update(before);
            let _ = ctx;
            return Ok(n);
        }
        if let Some(err) = self.error {
            return Err(err);
        }
        if matches!(self.peer_fin, Some(f) if self.rcv_nxt > f) {
            return Ok(0);
        }
        match self.state {
            State::Closed => Err(Error::NotConnected),
            _ => Err(Error::WouldBlock),
        }
    }

    /// RFC 9293 §3.8.6.2.2 (receiver-side SWS avoidance): announce a reopened window
    /// only once it grew by min(buffer / 2, MSS). The window is the one we would offer,
    /// capped by `rcv_ssthresh`: a read that frees space beyond the cap opens nothing.
    fn maybe_window_update(&mut self, before: u32) {
        let now = self.offered_window();
        let threshold = (self.recv.capacity() as u32 / 2).min(self.mss as u32);
        if now.saturating_sub(before) >= threshold && self.state.can_receive() {
            self.ack_now = true;
        }
    }
}
