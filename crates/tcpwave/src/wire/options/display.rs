//! [`TcpOptions`] in tcpdump's words, for traces and test failures.

use crate::wire::TcpOptions;

/// The options in tcpdump's words, comma separated:
/// `mss 1460,sackOK,TS val 1 ecr 0,wscale 7` (or `...,sack 1 {1449:2897}`).
impl core::fmt::Display for TcpOptions {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let mut sep = "";
        let mut part = |f: &mut core::fmt::Formatter<'_>, args: core::fmt::Arguments<'_>| {
            let r = write!(f, "{sep}{args}");
            sep = ",";
            r
        };
        if let Some(mss) = self.mss {
            part(f, format_args!("mss {mss}"))?;
        }
        if self.sack_permitted {
            part(f, format_args!("sackOK"))?;
        }
        if let Some((val, ecr)) = self.timestamps {
            part(f, format_args!("TS val {val} ecr {ecr}"))?;
        }
        if let Some(ws) = self.window_scale {
            part(f, format_args!("wscale {ws}"))?;
        }
        if self.sack_count > 0 {
            part(f, format_args!("sack {} ", self.sacks().len()))?;
            for b in self.sacks() {
                write!(f, "{{{}:{}}}", b.left, b.right)?;
            }
        }
        Ok(())
    }
}
