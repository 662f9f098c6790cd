//! Per-endpoint counters named after Linux's SNMP / netstat MIB entries
//! (`/proc/net/snmp`, `/proc/net/netstat`).

/// Counters, incremented where Linux increments its namesakes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[allow(non_snake_case)]
pub struct Counters {
    /// Tcp: ActiveOpens — connect() sent a SYN.
    pub ActiveOpens: u64,
    /// Tcp: PassiveOpens — a listener created a connection from a SYN.
    pub PassiveOpens: u64,
    /// Tcp: AttemptFails — a connection in SYN_SENT (or a simultaneous open's
    /// SYN_RECEIVED) failed; a passive SYN-RECEIVED counts only when an RST or SYN in its
    /// window resets it (Linux `tcp_check_req`), not when its SYN-ACKs run out.
    pub AttemptFails: u64,
    /// Tcp: EstabResets — an ESTABLISHED or CLOSE_WAIT connection was reset.
    pub EstabResets: u64,
    /// Tcp: OutRsts — RST segments sent.
    pub OutRsts: u64,
    /// Tcp: InSegs.
    pub InSegs: u64,
    /// Tcp: OutSegs (not counting retransmissions).
    pub OutSegs: u64,
    /// Tcp: RetransSegs.
    pub RetransSegs: u64,
    /// TcpExt: TCPTimeouts — expiries of the retransmission timer: in SYN-SENT, in
    /// SYN-RECEIVED (Linux `tcp_syn_ack_timeout`) and with data or a FIN unacknowledged,
    /// the last one that gives up included (Linux `tcp_retransmit_timer` counts before
    /// `tcp_write_timeout`); not the zero-window probe timer.
    pub TCPTimeouts: u64,
    /// TcpExt: TCPSynRetrans — SYNs and SYN-ACKs retransmitted, by the timer or in answer
    /// to a retransmitted SYN (Linux `tcp_retransmit_skb` for a SYN, `tcp_rtx_synack`).
    pub TCPSynRetrans: u64,
    /// Tcp: InErrs — segments that failed to parse or checksum, and SYNs that drew a
    /// challenge ACK in ESTABLISHED (Linux `tcp_validate_incoming` with `syn_inerr`).
    pub InErrs: u64,
    /// TcpExt: TCPAbortOnClose — close() with unread data sent RST.
    pub TCPAbortOnClose: u64,
    /// TcpExt: TCPAbortOnData — data arrived after close(), or SO_LINGER 0 close.
    pub TCPAbortOnData: u64,
    /// TcpExt: TCPAbortOnTimeout — retransmissions or keepalives ran out.
    pub TCPAbortOnTimeout: u64,
    /// TcpExt: TCPAbortOnLinger — orphaned FIN_WAIT_2 timed out.
    pub TCPAbortOnLinger: u64,
    /// TcpExt: TCPTimeWaitOverflow — TIME_WAIT skipped because the table was full.
    pub TCPTimeWaitOverflow: u64,
    /// TcpExt: TW — TIME_WAIT entries made with a TIME_WAIT over 4 s, counted as they are
    /// made, not when they expire (Linux `__inet_twsk_schedule`, LINUX_MIB_TIMEWAITED).
    /// Linux also counts here an orphaned FIN_WAIT_2, which it turns into a timewait
    /// socket (`tcp_time_wait(sk, TCP_FIN_WAIT2, tmo)`); tcpwave keeps such an orphan as
    /// a full connection and does not count it.
    pub TW: u64,
    /// TcpExt: TWRecycled — TIME_WAIT tuples reused by connect() (tcp_tw_reuse).
    pub TWRecycled: u64,
    /// TcpExt: TWKilled — the same as `TW` for a TIME_WAIT of 4 s or less
    /// (`__inet_twsk_schedule`: `kill = timeo <= 4*HZ`; with Linux's fixed 60 s only its
    /// short FIN_WAIT_2 orphans). Despite the name, not an RST ending TIME_WAIT (RFC 1337
    /// off): Linux counts nothing for that.
    pub TWKilled: u64,
    /// TcpExt: TCPChallengeACK — RFC 5961 challenge ACKs sent.
    pub TCPChallengeACK: u64,
    /// TcpExt: TCPSYNChallenge — SYNs that called for a challenge ACK in a synchronized
    /// state, whatever their sequence number or timestamp, counted whether or not the ACK
    /// was then rate-limited (Linux `tcp_validate_incoming`, `syn_challenge:`).
    pub TCPSYNChallenge: u64,
    /// TcpExt: TCPACKSkippedChallenge — a challenge ACK not sent because the connection
    /// sent an out-of-window ACK less than `tcp_invalid_ratelimit` ago (Linux
    /// `tcp_send_challenge_ack` → `__tcp_oow_rate_limited`).
    pub TCPACKSkippedChallenge: u64,
    /// TcpExt: TCPACKSkippedSeq — the duplicate ACK for an out-of-window pure ACK not sent,
    /// for the same reason (Linux `tcp_validate_incoming`, step 1).
    pub TCPACKSkippedSeq: u64,
    /// TcpExt: TCPACKSkippedPAWS — the duplicate ACK for a segment PAWS rejected not sent,
    /// for the same reason (Linux `tcp_validate_incoming`, PAWS check).
    pub TCPACKSkippedPAWS: u64,
    /// TcpExt: TCPACKSkippedSynRecv — a passive SYN-RECEIVED connection did not answer a
    /// segment that failed PAWS or the window check, for the same reason (Linux
    /// `tcp_check_req`, the request sock's own `last_oow_ack_time`).
    pub TCPACKSkippedSynRecv: u64,
    /// TcpExt: TCPACKSkippedTimeWait — a TIME_WAIT entry did not answer an out-of-window
    /// segment because it answered one less than `tcp_invalid_ratelimit` ago (Linux
    /// `tcp_timewait_check_oow_rate_limit`).
    pub TCPACKSkippedTimeWait: u64,
    /// TcpExt: ListenDrops — SYNs or ACKs dropped because a listener's queue was full.
    pub ListenDrops: u64,
    /// TcpExt: ListenOverflows — of those, the ones dropped because the accept queue was
    /// full (Linux tcp_conn_request for a SYN, tcp_v4_syn_recv_sock for the handshake ACK).
    pub ListenOverflows: u64,
    /// TcpExt: TCPReqQFullDrop — SYNs dropped because the SYN queue was full and there are
    /// no SYN cookies (Linux tcp_syn_flood_action).
    pub TCPReqQFullDrop: u64,
    /// TcpExt: EmbryonicRsts — half-open connections (a passive open in SYN-RECEIVED) reset
    /// by an RST or SYN in their window and dropped from the SYN queue (Linux
    /// `tcp_check_req`, `embryonic_reset:`, LINUX_MIB_EMBRYONICRSTS).
    pub EmbryonicRsts: u64,
    /// TcpExt: PAWSEstab — segments dropped by PAWS (RFC 7323 §5).
    pub PAWSEstab: u64,
}

impl Counters {
    /// (name, value) pairs for printing, in a stable order.
    pub fn pairs(&self) -> [(&'static str, u64); 31] {
        [
            ("ActiveOpens", self.ActiveOpens),
            ("PassiveOpens", self.PassiveOpens),
            ("AttemptFails", self.AttemptFails),
            ("EstabResets", self.EstabResets),
            ("OutRsts", self.OutRsts),
            ("InSegs", self.InSegs),
            ("OutSegs", self.OutSegs),
            ("RetransSegs", self.RetransSegs),
            ("TCPTimeouts", self.TCPTimeouts),
            ("TCPSynRetrans", self.TCPSynRetrans),
            ("InErrs", self.InErrs),
            ("TCPAbortOnClose", self.TCPAbortOnClose),
            ("TCPAbortOnData", self.TCPAbortOnData),
            ("TCPAbortOnTimeout", self.TCPAbortOnTimeout),
            ("TCPAbortOnLinger", self.TCPAbortOnLinger),
            ("TCPTimeWaitOverflow", self.TCPTimeWaitOverflow),
            ("TW", self.TW),
            ("TWRecycled", self.TWRecycled),
            ("TWKilled", self.TWKilled),
            ("TCPChallengeACK", self.TCPChallengeACK),
            ("TCPSYNChallenge", self.TCPSYNChallenge),
            ("TCPACKSkippedChallenge", self.TCPACKSkippedChallenge),
            ("TCPACKSkippedSeq", self.TCPACKSkippedSeq),
            ("TCPACKSkippedPAWS", self.TCPACKSkippedPAWS),
            ("TCPACKSkippedSynRecv", self.TCPACKSkippedSynRecv),
            ("TCPACKSkippedTimeWait", self.TCPACKSkippedTimeWait),
            ("ListenDrops", self.ListenDrops),
            ("ListenOverflows", self.ListenOverflows),
            ("TCPReqQFullDrop", self.TCPReqQFullDrop),
            ("EmbryonicRsts", self.EmbryonicRsts),
            ("PAWSEstab", self.PAWSEstab),
        ]
    }
}
