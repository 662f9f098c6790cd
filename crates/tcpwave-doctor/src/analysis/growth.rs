//! Counts per (state, owner, endpoint) for `--watch`.

use super::{Context, EndpointKey, OwnerId};
use crate::collect::Snapshot;
use crate::filter::Filters;
use crate::report::{Direction, Owner};
use crate::socket::TcpState;
use rustc_hash::FxHashMap as HashMap;

/// What `--watch` follows from sample to sample: a state, who holds it, toward where.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GrowthKey {
    pub state: TcpState,
    pub owner: Owner,
    pub(crate) endpoint: EndpointKey,
}

impl GrowthKey {
    /// `CLOSE_WAIT to 192.0.2.3:6379 owned by pid 4711 (worker)`.
    pub fn describe(&self) -> String {
        let place = match self.endpoint.direction {
            Direction::Outbound if self.state == TcpState::TimeWait => format!(
                "from {} to {}",
                self.endpoint.local_text(),
                self.endpoint.remote_text()
            ),
            Direction::Outbound => format!("to {}", self.endpoint.remote_text()),
            Direction::Inbound => format!(
                "from {} on {}",
                self.endpoint.remote_text(),
                self.endpoint.local_text()
            ),
        };
        let owner = match &self.owner {
            Owner::Process { pid, command } => format!(" owned by pid {pid} ({command})"),
            Owner::Uid { uid } => format!(" owned by a process of uid {uid}"),
            Owner::None if self.state == TcpState::CloseWait => " not accepted yet".to_string(),
            Owner::None => String::new(),
        };
        format!("{} {place}{owner}", self.state.name())
    }

    pub fn direction(&self) -> Direction {
        self.endpoint.direction
    }

    pub fn local(&self) -> String {
        self.endpoint.local_text()
    }

    pub fn remote(&self) -> String {
        self.endpoint.remote_text()
    }
}

/// Socket counts per [`GrowthKey`] for the states `--watch` follows (CLOSE_WAIT, TIME_WAIT,
/// FIN_WAIT_2), over the sockets that pass `filters`.
pub fn growth_counts(snapshot: &Snapshot, filters: &Filters) -> HashMap<GrowthKey, u64> {
    let context = Context::new(snapshot, filters);
    let mut by_id: HashMap<(TcpState, OwnerId, EndpointKey), u64> = HashMap::default();
    for socket in &context.selected {
        if !matches!(
            socket.state,
            TcpState::CloseWait | TcpState::TimeWait | TcpState::FinWait2
        ) {
            continue;
        }
        let owner = context.owner_id(socket);
        *by_id
            .entry((socket.state, owner, context.endpoint(socket)))
            .or_default() += 1;
    }
    by_id
        .into_iter()
        .map(|((state, owner, endpoint), count)| {
            (
                GrowthKey {
                    state,
                    owner: context.owner(owner).0,
                    endpoint,
                },
                count,
            )
        })
        .collect()
}
