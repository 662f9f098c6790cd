//! tcpwave-netns against the real `ip` command (privileged tests skip or fail by policy).

use std::io;
use std::path::PathBuf;
use std::time::Duration;
use tcpwave_netns::{effective_uid, privileged, skip_message, skip_or_panic, Netns};

#[test]
fn skip_message_names_the_test_and_the_fix() {
    let message = skip_message("my_test", "running as uid 1000, not root");
    assert!(message.starts_with("SKIPPED my_test: needs root and network namespaces"));
    assert!(message.contains("run scripts/test as root"));
    assert!(message.contains("uid 1000"));
}

#[test]
fn skip_without_requirement_returns_false() {
    assert!(!skip_or_panic("some_test", "not root", false));
}

#[test]
#[should_panic(expected = "SKIPPED some_test: needs root and network namespaces")]
fn skip_with_requirement_panics() {
    skip_or_panic("some_test", "not root", true);
}

#[test]
fn bad_prefixes_are_refused_before_running_anything() {
    for prefix in ["", "has space", "slash/", &"x".repeat(33)] {
        let err = Netns::create(prefix).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{prefix:?}");
    }
}

#[test]
fn effective_uid_is_readable() {
    assert!(effective_uid().is_some());
}

fn namespace_exists(name: &str) -> bool {
    PathBuf::from("/run/netns").join(name).exists()
}

#[test]
fn create_gives_unique_names_with_lo_up_and_drop_deletes() {
    if !privileged("create_gives_unique_names_with_lo_up_and_drop_deletes") {
        return;
    }
    let first = Netns::create("tw-unit").unwrap();
    let second = Netns::create("tw-unit").unwrap();
    assert_ne!(first.name(), second.name());
    assert!(first
        .name()
        .starts_with(&format!("tw-unit-{}-", std::process::id())));
    assert!(namespace_exists(first.name()));
    assert_eq!(first.path(), PathBuf::from("/run/netns").join(first.name()));

    let out = first
        .exec("ip", ["-o", "link", "show", "lo"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("UP"), "lo is not up: {text}");

    let name = first.name().to_string();
    drop(first);
    assert!(!namespace_exists(&name));
    assert!(namespace_exists(second.name()));
}

#[test]
fn add_addr_and_dummy_are_visible_inside_only() {
    if !privileged("add_addr_and_dummy_are_visible_inside_only") {
        return;
    }
    let ns = Netns::create("tw-unit").unwrap();
    ns.add_addr("lo", "192.0.2.1/24").unwrap();
    // Some kernels are built without the dummy driver: then only lo is checked.
    let dummy = match ns.add_dummy("dum0") {
        Ok(()) => ns
            .add_addr("dum0", "198.51.100.1/24")
            .map(|()| true)
            .unwrap(),
        Err(err) if err.to_string().contains("Unknown device type") => false,
        Err(err) => panic!("{err}"),
    };
    let out = ns.exec("ip", ["-o", "addr"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("192.0.2.1/24"), "{text}");
    assert_eq!(text.contains("198.51.100.1/24"), dummy, "{text}");
    // A duplicate address is an error that says what failed.
    let err = ns.add_addr("lo", "192.0.2.1/24").unwrap_err();
    assert!(err.to_string().contains("addr add"), "{err}");
}

#[test]
fn veth_pair_connects_two_namespaces() {
    if !privileged("veth_pair_connects_two_namespaces") {
        return;
    }
    let a = Netns::create("tw-unit").unwrap();
    let b = Netns::create("tw-unit").unwrap();
    a.link_veth("va", &b, "vb").unwrap();
    a.add_addr("va", "192.0.2.1/24").unwrap();
    b.add_addr("vb", "192.0.2.2/24").unwrap();
    for (ns, dev, addr) in [(&a, "va", "192.0.2.1/24"), (&b, "vb", "192.0.2.2/24")] {
        let out = ns.exec("ip", ["-o", "addr", "show", dev]).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success() && text.contains(addr), "{text}");
    }
    // The peer end lives in b only: a has no device called vb.
    let out = a.exec("ip", ["link", "show", "vb"]).output().unwrap();
    assert!(!out.status.success());
}

#[test]
fn drop_kills_processes_left_inside() {
    if !privileged("drop_kills_processes_left_inside") {
        return;
    }
    let ns = Netns::create("tw-unit").unwrap();
    let mut child = ns.exec("sleep", ["30"]).spawn().unwrap();
    let mut pids = Vec::new();
    for _ in 0..100 {
        pids = ns.pids().unwrap();
        if !pids.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(pids.len(), 1, "the sleep should be the one process inside");
    drop(ns);
    // Killed, so wait() returns promptly with a signal status.
    let status = child.wait().unwrap();
    assert!(!status.success());
}
