"""The node's /etc/hosts: its names end up on exactly the management address (ciab.box.hosts_file)."""

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.ciab.box.plugins.filter.node import hosts_file
from ansible_collections.ciab.box.plugins.module_utils.hosts_file import HostsError, pin_hosts

# What Docker wrote into the sandbox container when it attached the provider network first (2026-12-01).
DOCKER = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
172.31.241.2\tciab-sandbox
"""
# A fresh Debian 13 install.
DEBIAN = """127.0.0.1\tlocalhost
127.0.1.1\tbox.example.org\tbox

# The following lines are desirable for IPv6 capable hosts
::1     localhost ip6-localhost ip6-loopback
ff02::1 ip6-allnodes
ff02::2 ip6-allrouters
"""


def resolve(content, name):
    return [line.split()[0] for line in content.splitlines() if name in line.split("#")[0].split()[1:]]


def test_docker_line_for_the_provider_network_is_replaced():
    out = pin_hosts(DOCKER, "172.31.240.2", ["ciab-sandbox"])
    assert resolve(out, "ciab-sandbox") == ["172.31.240.2"]
    assert "172.31.241.2" not in out
    assert out.startswith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost")
    assert out.endswith("172.31.240.2 ciab-sandbox\n")


def test_debian_127_0_1_1_alias_goes_and_comments_stay():
    out = pin_hosts(DEBIAN, "192.0.2.10", ["box.example.org", "box"])
    assert resolve(out, "box") == ["192.0.2.10"]
    assert resolve(out, "box.example.org") == ["192.0.2.10"]
    assert "127.0.1.1" not in out
    assert "# The following lines are desirable for IPv6 capable hosts" in out
    assert "192.0.2.10 box.example.org box\n" in out


def test_other_names_on_a_wrong_line_stay_there():
    out = pin_hosts("10.0.0.5 printer box # office\n", "192.0.2.10", ["box"])
    assert out.splitlines() == ["10.0.0.5 printer # office", "192.0.2.10 box"]


def test_existing_management_line_keeps_its_place_and_other_names():
    content = "127.0.0.1 localhost\n192.0.2.10 old-alias\n10.1.1.1 gw\n"
    out = pin_hosts(content, "192.0.2.10", ["box"])
    assert out.splitlines() == ["127.0.0.1 localhost", "192.0.2.10 box old-alias", "10.1.1.1 gw"]


def test_names_on_loopback_and_ipv6_are_taken_off():
    out = pin_hosts("127.0.0.1 localhost box\n::1 localhost box\n", "192.0.2.10", ["box"])
    assert out.splitlines() == ["127.0.0.1 localhost", "::1 localhost", "192.0.2.10 box"]


def test_already_right_is_unchanged():
    right = "127.0.0.1 localhost\n192.0.2.10 box.example.org box\n"
    assert pin_hosts(right, "192.0.2.10", ["box.example.org", "box"]) == right
    assert pin_hosts(pin_hosts(DOCKER, "172.31.240.2", ["ciab-sandbox"]), "172.31.240.2", ["ciab-sandbox"]) == (
        pin_hosts(DOCKER, "172.31.240.2", ["ciab-sandbox"])
    )


def test_names_match_case_insensitively():
    assert resolve(pin_hosts("10.0.0.9 BOX\n", "192.0.2.10", ["box"]), "BOX") == []


def test_empty_file_gets_the_line():
    assert pin_hosts("", "192.0.2.10", ["box"]) == "192.0.2.10 box\n"


@pytest.mark.parametrize(
    ("address", "names", "needle"),
    [
        ("not-an-ip", ["box"], "base_mgmt_address"),
        ("", ["box"], "base_mgmt_address"),
        ("192.0.2.1", [], "base_hostname"),
    ],
)
def test_bad_arguments_name_the_variable(address, names, needle):
    with pytest.raises(HostsError, match=needle):
        pin_hosts(DEBIAN, address, names)


def test_filter_shim_raises_filter_errors():
    assert hosts_file(DOCKER, "172.31.240.2", "ciab-sandbox").endswith("172.31.240.2 ciab-sandbox\n")
    with pytest.raises(AnsibleFilterError, match=r"ciab\.box\.hosts_file: address 'x'"):
        hosts_file(DOCKER, "x", ["ciab-sandbox"])
