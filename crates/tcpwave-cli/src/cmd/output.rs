//! Writing a subcommand's output to standard output as Unix tools do: a reader that goes
//! away early (`tcpwave ... | head`) ends the command quietly with success; any other write
//! error (a full disk, a closed terminal) is reported as such, not as a panic.

use std::io::{self, ErrorKind, StdoutLock, Write};

/// Runs `write` on a locked stdout and flushes it. A broken pipe is not an error.
pub fn to_stdout(
    write: impl FnOnce(&mut StdoutLock<'static>) -> io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = io::stdout().lock();
    finish(write(&mut out).and_then(|()| out.flush()))
}

/// What a write to standard output that ended with `result` means for the command.
pub fn finish(result: io::Result<()>) -> anyhow::Result<()> {
    match result {
        // `tcpwave ... | head` closes the pipe early: not an error.
        Err(error) if error.kind() == ErrorKind::BrokenPipe => Ok(()),
        Err(error) => Err(write_error(error)),
        Ok(()) => Ok(()),
    }
}

/// The error for a failed write to standard output, saying where it was writing.
pub fn write_error(error: io::Error) -> anyhow::Error {
    anyhow::Error::new(error).context("cannot write the output to standard output")
}

/// `value` as pretty JSON followed by a newline.
pub fn json(out: &mut impl Write, value: &impl serde::Serialize) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::from)?;
    writeln!(out)
}

/// A report on standard output: as pretty JSON with `--json`, else as `render` draws it.
pub fn report<T: serde::Serialize>(
    as_json: bool,
    value: &T,
    render: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    to_stdout(|out| {
        if as_json {
            json(out, value)
        } else {
            out.write_all(render(value).as_bytes())
        }
    })
}
