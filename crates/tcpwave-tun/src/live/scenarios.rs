use super::{LiveOptions, LiveReport, Watcher};
use crate::error::TunError;
use crate::lab::Lab;
pub(super) fn run(
    _lab: &Lab,
    _w: &mut Watcher<'_>,
    _o: &LiveOptions,
    _out: &mut dyn std::io::Write,
) -> Result<LiveReport, TunError> {
    Ok(LiveReport::default())
}
