use super::*;

const ENGINE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

#[test]
fn kernel_addresses_that_cannot_reach_the_engine_are_refused() {
    assert_eq!(
        check_kernel_addr(ENGINE, "192.0.2.1/24"),
        Ok(Cidr {
            addr: Ipv4Addr::new(192, 0, 2, 1),
            prefix: 24
        })
    );
    // The same address: the kernel would answer it itself.
    let same = check_kernel_addr(Ipv4Addr::new(192, 0, 2, 1), "192.0.2.1/24").unwrap_err();
    assert!(same.contains("is the kernel's own address"), "{same}");
    assert!(same.contains("e.g. --addr 192.0.2.2"), "{same}");
    // Outside the subnet: routed elsewhere.
    let outside = check_kernel_addr(Ipv4Addr::new(198, 51, 100, 2), "192.0.2.1/24").unwrap_err();
    assert!(
        outside.contains("is outside --kernel-addr 192.0.2.1/24"),
        "{outside}"
    );
    assert!(outside.contains("subnet 192.0.2.0/24"), "{outside}");
    assert!(
        outside.contains("--kernel-addr 198.51.100.1/24"),
        "{outside}"
    );
    // A /32 holds the kernel only.
    let host = check_kernel_addr(ENGINE, "192.0.2.1/32").unwrap_err();
    assert!(host.contains("no room for a second address"), "{host}");
    // Network and broadcast addresses.
    let net = check_kernel_addr(Ipv4Addr::new(192, 0, 2, 0), "192.0.2.1/24").unwrap_err();
    assert!(net.contains("network address of 192.0.2.0/24"), "{net}");
    let bcast = check_kernel_addr(Ipv4Addr::new(192, 0, 2, 255), "192.0.2.1/24").unwrap_err();
    assert!(bcast.contains("broadcast address"), "{bcast}");
    // A /31 has two hosts and no broadcast.
    assert!(check_kernel_addr(Ipv4Addr::new(192, 0, 2, 1), "192.0.2.0/31").is_ok());
    // The kernel at the end of its subnet: the suggestion stays inside it.
    let end = check_kernel_addr(Ipv4Addr::new(192, 0, 2, 254), "192.0.2.254/24").unwrap_err();
    assert!(end.contains("e.g. --addr 192.0.2.253"), "{end}");
    for bad in ["192.0.2.1", "192.0.2.1/33", "tw0/24", ""] {
        let err = check_kernel_addr(ENGINE, bad).unwrap_err();
        assert!(err.contains("like 192.0.2.1/24"), "{bad}: {err}");
    }
}

#[test]
fn a_device_that_is_down_without_an_address_is_diagnosed() {
    // What a fresh namespace shows after `tcpwave serve --tun tw0` without --kernel-addr.
    let view = DeviceView {
        link: "5: tw0: <POINTOPOINT,MULTICAST,NOARP> mtu 1500 qdisc noop state DOWN mode DEFAULT group default qlen 500\\    link/none \n".into(),
        addrs: String::new(),
        route: "RTNETLINK answers: Network is unreachable\n".into(),
    };
    let warning = diagnose("tw0", ENGINE, &view).expect("a warning");
    assert!(
        warning.starts_with("the kernel cannot reach 192.0.2.2 via tw0 (tw0 is down, tw0 has no IPv4 address, the kernel has no route to 192.0.2.2): give the device an address with --kernel-addr 192.0.2.1/24 or `ip addr add 192.0.2.1/24 dev tw0 && ip link set tw0 up`"),
        "{warning}"
    );
}

#[test]
fn a_configured_device_is_fine_and_a_wrong_route_or_local_address_is_not() {
    let up = "5: tw0: <POINTOPOINT,MULTICAST,NOARP,UP,LOWER_UP> mtu 1500 qdisc fq_codel state UNKNOWN mode DEFAULT group default qlen 500\\    link/none \n";
    let addr = "5: tw0    inet 192.0.2.1/24 scope global tw0\\       valid_lft forever preferred_lft forever\n";
    let fine = DeviceView {
        link: up.into(),
        addrs: addr.into(),
        route: "192.0.2.2 dev tw0 src 192.0.2.1 uid 0 \\    cache \n".into(),
    };
    assert_eq!(diagnose("tw0", ENGINE, &fine), None);
    // Up with an address, but the engine's address is routed elsewhere.
    let elsewhere = DeviceView {
        route: "198.51.100.2 via 10.0.0.1 dev eth0 src 10.0.0.5 uid 0 \\    cache \n".into(),
        ..fine.clone()
    };
    let warning = diagnose("tw0", Ipv4Addr::new(198, 51, 100, 2), &elsewhere).unwrap();
    assert!(
        warning.contains("the kernel routes 198.51.100.2 via eth0, not tw0"),
        "{warning}"
    );
    assert!(warning.contains("tw0 has 192.0.2.1/24"), "{warning}");
    // Down, though it has an address.
    let down = DeviceView {
        link: up.replace(",UP,LOWER_UP", ""),
        route: "RTNETLINK answers: Network is unreachable\n".into(),
        ..fine.clone()
    };
    let warning = diagnose("tw0", ENGINE, &down).unwrap();
    assert!(warning.contains("tw0 is down"), "{warning}");
    assert!(warning.contains("ip link set tw0 up"), "{warning}");
    // The engine's address is the kernel's own.
    let local = DeviceView {
        route: "local 192.0.2.1 dev lo table local src 192.0.2.1 uid 0 \\    cache <local> \n"
            .into(),
        ..fine
    };
    let warning = diagnose("tw0", Ipv4Addr::new(192, 0, 2, 1), &local).unwrap();
    assert!(
        warning.contains("is one of the kernel's own addresses"),
        "{warning}"
    );
}
