//! `tcpwave live` scenarios through the library: each runs in its own namespace against
//! the kernel and must meet every check; the namespace is gone afterwards.

use std::time::Duration;

use tcpwave_tun::live::{run, LiveOptions, Scenario};

#[test]
fn every_live_scenario_matches_linux_and_cleans_up() {
    if !tcpwave_netns::privileged("every_live_scenario_matches_linux_and_cleans_up") {
        return;
    }
    for scenario in Scenario::ALL {
        let mut opts = LiveOptions::new(scenario);
        opts.watch = Duration::from_millis(300);
        opts.fin_timeout = Duration::from_secs(2);
        let mut out = Vec::new();
        let report = run(&opts, &mut out).expect("live run");
        let text = String::from_utf8_lossy(&out);
        assert!(report.passed(), "{}:\n{text}", scenario.name());
        if scenario != Scenario::PortClosed {
            assert!(text.contains("(ss)"), "kernel states shown:\n{text}");
        }
        let name = text
            .lines()
            .find_map(|l| {
                l.strip_prefix("namespace ")
                    .and_then(|r| r.split(' ').next())
            })
            .expect("namespace named")
            .to_string();
        assert!(
            !std::path::Path::new("/run/netns").join(&name).exists(),
            "{name} left behind"
        );
    }
}
