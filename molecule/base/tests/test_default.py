"""Verify ciab.box.base on a converged node: services answer and settings are live, not just written."""

import json


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
