"""Verify ciab.box.base on a converged node: services answer and settings are live, not just written."""

import json
import time


def test_chronyd_answers(host):
    svc = host.service("chrony")
    assert svc.is_running
    assert svc.is_enabled
    tracking = host.run("chronyc -n tracking")
    assert tracking.rc == 0, tracking.stderr
    assert "Reference ID" in tracking.stdout


def test_chrony_uses_configured_pool(host):
    sources = host.run("chronyc -n -c sources")
    assert sources.rc == 0, sources.stderr
    # The pool is resolved or at least listed in the configuration chronyd loaded.
    assert host.file("/etc/chrony/chrony.conf").contains("^pool 2.debian.pool.ntp.org iburst")


def test_network_sysctls_are_live(host):
    expected = {
        "net.ipv4.ip_forward": 1,
        "net.ipv4.conf.all.rp_filter": 2,
        "net.ipv4.tcp_keepalive_time": 300,
        "net.core.somaxconn": 4096,
    }
    for key, value in expected.items():
        assert host.sysctl(key) == value, key
        assert host.file("/etc/sysctl.d/60-ciab.conf").contains(f"^{key}={value}$")


def test_host_global_sysctls_written_for_boot(host):
    conf = host.file("/etc/sysctl.d/60-ciab.conf")
    assert conf.mode == 0o644
    for line in ("fs.aio-max-nr=1048576", "net.ipv4.neigh.default.gc_thresh3=16384", "vm.swappiness=10"):
        assert conf.contains(f"^{line}$"), line


def test_hostname_resolves_to_the_planned_management_address(host):
    """The plan manages the node over eth1 (ciab_nic_policy), not over eth0 with the default route: its name
    resolves to eth1's address, the one the contract hands the base layer."""
    hostname = host.check_output("hostname")
    default = json.loads(host.check_output("ip -j route get 1.1.1.1"))[0]
    planned = json.loads(host.check_output("ip -j -4 addr show dev eth1"))[0]["addr_info"][0]["local"]
    assert default["dev"] == "eth0" and default["prefsrc"] != planned
    assert host.check_output(f"getent ahostsv4 {hostname} | head -1").split()[0] == planned
    assert not host.file("/etc/hosts").contains(r"^127\.0\.1\.1")
    assert not host.file("/etc/hosts").contains(rf"^{default['prefsrc']}\s")


def test_required_packages(host):
    for pkg in ("chrony", "curl", "gnupg", "python3-apt"):
        assert host.package(pkg).is_installed, pkg


def test_firewall_filters_the_planned_management_nic_with_ssh_open(host):
    chain = host.check_output("nft list chain inet ciab input")
    assert 'iifname != "eth1" accept' in chain, chain  # the plan's management NIC, not eth0 (the default route's)
    assert "22" in host.check_output("nft list set inet ciab public_tcp").replace(",", " ").split()
    assert host.service("ciab-firewall").is_enabled
    # Docker's resolver (its own NAT table in the container) still answers a name only it knows
    assert host.run("getent hosts ciab-base.ciab-base-mgmt").rc == 0


def _public(host):
    return host.check_output("nft list set inet ciab public_tcp").replace(",", " ").split()


def test_firewall_rolls_back_what_is_not_confirmed_and_keeps_what_is(host):
    layer = "/etc/ciab/firewall/layers/zz-test.nft"
    host.check_output(f"echo 'add element inet ciab public_tcp {{ 4444 }}' > {layer}")
    try:
        assert host.check_output("ciab-firewall apply 3") == "applied"
        assert "4444" in _public(host)
        time.sleep(8)  # nobody confirmed: the node's timer puts the previous table back
        assert "4444" not in _public(host) and "22" in _public(host)
        assert "not confirmed" in host.check_output("journalctl -t ciab-firewall --no-pager -n 3")
        assert host.check_output("ciab-firewall apply 3") == "applied"
        host.check_output("ciab-firewall confirm")
        time.sleep(5)
        assert "4444" in _public(host)  # confirmed: no rollback
        assert host.check_output("ciab-firewall apply 3") == "unchanged"
    finally:
        host.run(f"rm -f {layer} && ciab-firewall apply 30 && ciab-firewall confirm")
    assert "4444" not in _public(host)
