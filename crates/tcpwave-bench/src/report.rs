//! The orchestrator: runs every case in its own child process, prints the table, checks
//! the targets of issue 7 and optionally writes all figures as JSON (for the chart script).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::cases::Budget;
use crate::kernel;

/// Parked-connection counts of the scaling table.
pub const PARKED: [u64; 4] = [0, 1_000, 10_000, 100_000];
/// A peer's point is measured only while it is projected to take under this many seconds.
pub const POINT_SECONDS_MAX: f64 = 60.0;

/// What `run` measures, scaled down for a smoke run.
#[derive(Clone, Copy, Debug)]
pub struct Plan {
    pub budget: Budget,
    pub parked: [u64; 4],
    pub time_wait_entries: [u64; 2],
    pub idle_tcpwave: u64,
    pub idle_smoltcp: u64,
    pub bulk_bytes: u64,
    pub timer_connections: u64,
}

impl Plan {
    pub const FULL: Plan = Plan {
        budget: Budget::FULL,
        parked: PARKED,
        time_wait_entries: [1_000_000, 10_000_000],
        idle_tcpwave: 1_000_000,
        idle_smoltcp: 10_000,
        bulk_bytes: 1 << 30,
        timer_connections: 1_000_000,
    };
    pub const QUICK: Plan = Plan {
        budget: Budget::QUICK,
        parked: [0, 10, 100, 1_000],
        time_wait_entries: [1_000, 10_000],
        idle_tcpwave: 1_000,
        idle_smoltcp: 100,
        bulk_bytes: 1 << 20,
        timer_connections: 1_000,
    };
}

/// Run `exe <args..>` and parse the JSON object on the last line of its output.
fn child(exe: &Path, args: &[String]) -> Value {
    let output = Command::new(exe)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("could not run {} {args:?}: {e}", exe.display()));
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        // Keep going: one failed case must not throw away the others' figures.
        let stderr = String::from_utf8_lossy(&output.stderr);
        eprintln!(
            "tcpwave-bench: {args:?} failed ({}):\n{stdout}\n{stderr}",
            output.status
        );
        return json!({"error": format!("{args:?} failed ({})", output.status)});
    }
    let last = stdout.lines().last().unwrap_or("");
    serde_json::from_str(last)
        .unwrap_or_else(|e| json!({"error": format!("bad output of {args:?}: {e}: {last}")}))
}

fn args(list: &[&str], budget: Budget) -> Vec<String> {
    let mut v: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    if budget.quick {
        v.push("--quick".into());
    }
    v
}

fn progress(text: &str) {
    eprintln!("tcpwave-bench: {text}");
}

/// The machine the figures come from.
pub fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split(':').nth(1))
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default();
    let memory_kib = std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .next()
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse::<u64>().ok())
        })
        .unwrap_or(0);
    json!({
        "cpu": cpu, "cores": cores, "kernel": kernel,
        "memory_gib": memory_kib as f64 / (1024.0 * 1024.0),
        "loadavg": loadavg(),
        "tcp_slab_bytes": kernel::slab_object_bytes("TCP"),
        "tw_sock_slab_bytes": kernel::slab_object_bytes("tw_sock_TCP"),
        "open_files_limit": kernel::open_files_limit().map(|(soft, _)| soft),
    })
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Run every case and return all figures.
pub fn run(exe: &Path, plan: Plan) -> Value {
    let budget = plan.budget;
    let machine_before = machine();
    let mut lifecycles = Vec::new();
    let mut skipped = Vec::new();
    let mut smoltcp_projection: Option<f64> = None;
    let fd_limit = kernel::open_files_limit().map_or(1024, |(soft, _)| soft);
    for &m in &plan.parked {
        let ms = m.to_string();
        progress(&format!("lifecycles, tcpwave, {m} parked"));
        lifecycles.push(child(exe, &args(&["lifecycle", "tcpwave", &ms], budget)));
        match smoltcp_projection {
            Some(p) if p > POINT_SECONDS_MAX && !budget.quick => {
                skipped.push(json!({"engine": "smoltcp", "parked": m,
                    "why": format!("projected {p:.0} s for this point (setup is quadratic in M)")}));
            }
            _ => {
                progress(&format!("lifecycles, smoltcp, {m} parked"));
                let r = child(exe, &args(&["lifecycle", "smoltcp", &ms], budget));
                // Setup grows with M^2 (each packet scans every socket), a lifecycle with M.
                let setup = r["setup_seconds"].as_f64().unwrap_or(0.0);
                let timed = r["seconds"].as_f64().unwrap_or(0.0);
                let scale = if m == 0 { 0.0 } else { 10.0 };
                smoltcp_projection = Some(setup * scale * scale + timed * scale.max(1.0));
                lifecycles.push(r);
            }
        }
        if m == 0 {
            // The same lifecycle with TCP checksums computed and verified by both engines
            // (the rows above leave them to the loopback "device", as smoltcp's Loopback
            // and Linux's lo do).
            // And tcpwave with a 1-second TIME_WAIT: what the 600,000-entry table's cache
            // misses cost.
            for engine in ["tcpwave-checksums", "smoltcp-checksums", "tcpwave-tw1s"] {
                progress(&format!("lifecycles, {engine}, 0 parked"));
                lifecycles.push(child(exe, &args(&["lifecycle", engine, "0"], budget)));
            }
        }
        // One descriptor per parked connection here, one in the helper, plus a few.
        if m + 64 <= fd_limit {
            progress(&format!("lifecycles, kernel, {m} parked"));
            lifecycles.push(child(exe, &args(&["lifecycle", "kernel", &ms], budget)));
        } else {
            skipped.push(json!({"engine": "kernel", "parked": m,
                "why": format!("RLIMIT_NOFILE is {fd_limit} here: {m} connections need {m} descriptors per side")}));
        }
    }
    let mut time_wait = Vec::new();
    for &n in &plan.time_wait_entries {
        progress(&format!("TIME_WAIT memory, {n} entries"));
        time_wait.push(child(
            exe,
            &args(&["time-wait-memory", &n.to_string()], budget),
        ));
    }
    progress("idle connection memory");
    let idle = vec![
        child(
            exe,
            &args(
                &["idle-memory", "tcpwave", &plan.idle_tcpwave.to_string()],
                budget,
            ),
        ),
        child(
            exe,
            &args(
                &["idle-memory", "smoltcp", &plan.idle_smoltcp.to_string()],
                budget,
            ),
        ),
    ];
    let mut bulk = Vec::new();
    for mss in [1460u16, 65495] {
        for engine in [
            "tcpwave",
            "smoltcp",
            "tcpwave-checksums",
            "smoltcp-checksums",
        ] {
            progress(&format!("bulk, {engine}, MSS {mss}"));
            bulk.push(child(
                exe,
                &args(
                    &[
                        "bulk",
                        engine,
                        &mss.to_string(),
                        &plan.bulk_bytes.to_string(),
                    ],
                    budget,
                ),
            ));
        }
    }
    progress("keepalive timers");
    let timers = child(
        exe,
        &args(&["timers", &plan.timer_connections.to_string()], budget),
    );
    json!({
        "machine": machine_before,
        "loadavg_after": loadavg(),
        "quick": budget.quick,
        "lifecycles": lifecycles,
        "skipped": skipped,
        "time_wait": time_wait,
        "idle": idle,
        "bulk": bulk,
        "timers": timers,
    })
}

fn thousands(v: f64) -> String {
    let n = v.round() as u64;
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn find<'a>(list: &'a Value, engine: &str, key: &str, value: u64) -> Option<&'a Value> {
    list.as_array()?
        .iter()
        .find(|r| r["engine"] == engine && r[key].as_u64() == Some(value))
}

fn rate_cell(results: &Value, engine: &str, m: u64) -> String {
    match find(&results["lifecycles"], engine, "parked", m) {
        Some(r) => thousands(r["rate"].as_f64().unwrap_or(0.0)),
        None => "not run".into(),
    }
}

fn verdict(ok: bool) -> &'static str {
    if ok {
        "HOLDS"
    } else {
        "MISSED"
    }
}

/// The table, as printed by `tcpwave-bench` and pasted into docs/benchmarks.md.
pub fn table(results: &Value, parked: &[u64]) -> String {
    let mut out = String::new();
    let m = &results["machine"];
    out.push_str(&format!(
        "machine: {} ({} cores, {:.0} GiB), Linux {}, load average {} before, {} after{}\n\n",
        m["cpu"].as_str().unwrap_or("?"),
        m["cores"],
        m["memory_gib"].as_f64().unwrap_or(0.0),
        m["kernel"].as_str().unwrap_or("?"),
        m["loadavg"].as_str().unwrap_or("?"),
        results["loadavg_after"].as_str().unwrap_or("?"),
        if results["quick"] == true {
            "  [--quick: smoke run, figures meaningless]"
        } else {
            ""
        }
    ));
    out.push_str("1-2. Lifecycles per second (handshake, 4 B request, 4 B reply, client close, server close),\n");
    out.push_str("     with M idle established connections parked alongside\n");
    out.push_str(&format!(
        "  {:>9} | {:>12} | {:>12} | {:>12}\n",
        "M", "tcpwave", "smoltcp", "kernel"
    ));
    for &m in parked {
        out.push_str(&format!(
            "  {:>9} | {:>12} | {:>12} | {:>12}\n",
            thousands(m as f64),
            rate_cell(results, "tcpwave", m),
            rate_cell(results, "smoltcp", m),
            rate_cell(results, "kernel", m)
        ));
    }
    out.push_str(&format!(
        "  {:>9} | {:>12} | {:>12} |   (M = 0, TCP checksums computed and verified by both)\n",
        "checksums",
        rate_cell(results, "tcpwave-checksums", 0),
        rate_cell(results, "smoltcp-checksums", 0),
    ));
    out.push_str(&format!(
        "  {:>9} | {:>12} | {:>12} |   (M = 0, tcpwave's TIME_WAIT 1 s: 10,000 live entries, not 600,000)\n",
        "TW 1 s",
        rate_cell(results, "tcpwave-tw1s", 0),
        "",
    ));
    if let Some(skipped) = results["skipped"].as_array() {
        for s in skipped {
            out.push_str(&format!(
                "  not run: {} at M = {}: {}\n",
                s["engine"].as_str().unwrap_or("?"),
                thousands(s["parked"].as_f64().unwrap_or(0.0)),
                s["why"].as_str().unwrap_or("?")
            ));
        }
    }
    out.push_str("  TIME_WAIT: tcpwave keeps every client TIME_WAIT entry for 60 s of virtual time (600,000 live\n");
    out.push_str("  in steady state, tcp_tw_reuse 0); smoltcp's client socket reaches TIME-WAIT and is reused by\n");
    out.push_str(
        "  the next connect(), which discards it (as smoltcp's examples do); the kernel keeps a\n",
    );
    out.push_str(
        "  tw_sock_TCP per close and recycles loopback ones after 1 s (tcp_tw_reuse = 2).\n\n",
    );

    let rate = |e: &str, m: u64| {
        find(&results["lifecycles"], e, "parked", m).and_then(|r| r["rate"].as_f64())
    };
    let last_m = *parked.last().unwrap_or(&0);
    let mut targets = Vec::new();
    if let (Some(t), Some(s)) = (rate("tcpwave", 0), rate("smoltcp", 0)) {
        targets.push(format!(
            "lifecycles/s at M=0 vs smoltcp: {:.2}x (target >= 1.5x): {}",
            t / s,
            verdict(t >= 1.5 * s)
        ));
    }
    if let (Some(t), Some(k)) = (rate("tcpwave", 0), rate("kernel", 0)) {
        targets.push(format!(
            "lifecycles/s at M=0 vs kernel: {:.0}x (target >= 100x): {}",
            t / k,
            verdict(t >= 100.0 * k)
        ));
    }
    if let (Some(t0), Some(tm)) = (rate("tcpwave", 0), rate("tcpwave", last_m)) {
        targets.push(format!(
            "tcpwave at M={} vs M=0: {:.0} % (target >= 80 %): {}",
            thousands(last_m as f64),
            100.0 * tm / t0,
            verdict(tm >= 0.8 * t0)
        ));
    }

    out.push_str("3. TIME_WAIT memory (real lifecycles, client-side entries; resident memory delta / entries)\n");
    out.push_str(&format!(
        "  {:>12} | {:>16} | {:>18} | {:>16}\n",
        "entries", "RSS B/entry", "table B/entry", "Linux tw_sock_TCP"
    ));
    let tw_slab = m["tw_sock_slab_bytes"].as_u64().unwrap_or(256);
    let mut largest_tw: Option<f64> = None;
    for r in results["time_wait"].as_array().into_iter().flatten() {
        let per = r["rss_bytes_per_entry"].as_f64().unwrap_or(0.0);
        largest_tw = Some(per);
        out.push_str(&format!(
            "  {:>12} | {:>16.1} | {:>18.1} | {:>16}\n",
            thousands(r["entries"].as_f64().unwrap_or(0.0)),
            per,
            r["table_bytes_per_entry"].as_f64().unwrap_or(0.0),
            format!("{tw_slab} B")
        ));
    }
    out.push('\n');
    if let Some(per) = largest_tw {
        targets.push(format!(
            "TIME_WAIT at the largest count: {per:.1} B/entry (target <= 64): {}",
            verdict(per <= 64.0)
        ));
    }

    out.push_str(
        "4. Idle established connection, no data buffers (resident memory delta / TCBs)\n",
    );
    let tcp_slab = m["tcp_slab_bytes"].as_u64().unwrap_or(2368);
    for r in results["idle"].as_array().into_iter().flatten() {
        let engine = r["engine"].as_str().unwrap_or("?");
        let per = r["bytes_per_tcb"].as_f64().unwrap_or(0.0);
        let extra = if engine == "smoltcp" {
            format!(
                " (SocketStorage {} B, tcp::Socket {} B)",
                r["socket_storage_bytes"], r["tcp_socket_bytes"]
            )
        } else {
            String::new()
        };
        out.push_str(&format!(
            "  {:<8} {:>8.0} B per TCB over {} connections{extra}\n",
            engine,
            per,
            thousands(r["connections"].as_f64().unwrap_or(0.0))
        ));
        if engine == "tcpwave" {
            targets.push(format!(
                "idle established connection: {per:.0} B (target <= 1024): {}",
                verdict(per <= 1024.0)
            ));
        }
    }
    out.push_str(&format!(
        "  {:<8} {:>8} B per socket (TCP slab object, without buffers)\n\n",
        "Linux", tcp_slab
    ));

    out.push_str(
        "5. Bulk throughput, one stream in process (Gbit/s of payload, 1 MiB socket buffers)\n",
    );
    out.push_str(&format!(
        "  {:>6} | {:>9} | {:>9} | {:>17} | {:>17}\n",
        "MSS", "tcpwave", "smoltcp", "tcpwave checksums", "smoltcp checksums"
    ));
    for mss in [1460u64, 65495] {
        let gbps = |e: &str| {
            find(&results["bulk"], e, "mss", mss)
                .and_then(|r| r["bytes_per_second"].as_f64())
                .map(|b| b * 8.0 / 1e9)
        };
        let cell = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.2}"));
        out.push_str(&format!(
            "  {:>6} | {:>9} | {:>9} | {:>17} | {:>17}\n",
            mss,
            cell(gbps("tcpwave")),
            cell(gbps("smoltcp")),
            cell(gbps("tcpwave-checksums")),
            cell(gbps("smoltcp-checksums"))
        ));
        if let (Some(t), Some(s)) = (gbps("tcpwave"), gbps("smoltcp")) {
            targets.push(format!(
                "bulk at MSS {mss}: {:.2}x smoltcp (target >= 1x): {}",
                t / s,
                verdict(t >= s)
            ));
        }
    }
    out.push_str(
        "  (tcpwave and smoltcp: TCP checksums left to the loopback, as smoltcp's Loopback and Linux's lo\n   do; the checksums columns compute and verify them)\n\n",
    );

    let t = &results["timers"];
    out.push_str(&format!(
        "6. Timers: {} connections with keepalive armed, {} s of virtual time: {:.2} s wall\n   ({} wake-ups, {} keepalive probes and ACKs)\n\n",
        thousands(t["connections"].as_f64().unwrap_or(0.0)),
        t["virtual_seconds"],
        t["wall_seconds"].as_f64().unwrap_or(0.0),
        thousands(t["handle_timeout_calls"].as_f64().unwrap_or(0.0)),
        thousands(t["packets"].as_f64().unwrap_or(0.0)),
    ));
    let mut failures = Vec::new();
    for section in ["lifecycles", "time_wait", "idle", "bulk"] {
        for r in results[section].as_array().into_iter().flatten() {
            if let Some(e) = r["error"].as_str() {
                failures.push(e.to_string());
            }
        }
    }
    if let Some(e) = results["timers"]["error"].as_str() {
        failures.push(e.to_string());
    }
    for e in &failures {
        out.push_str(&format!("FAILED: {e}\n"));
    }
    out.push_str("Targets (issue 7):\n");
    for line in targets {
        out.push_str(&format!("  {line}\n"));
    }
    out
}

/// Where `--json` writes when given without a path.
pub fn default_json_path() -> PathBuf {
    PathBuf::from("tcpwave-bench-results.json")
}
