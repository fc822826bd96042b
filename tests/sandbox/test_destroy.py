"""`ciab destroy` on the sandbox (#20), last (after test_restore, which destroyed with --keep-osd-disks and restored
every layer onto the destroyed box): the cloud comes off the box as off a real one (every layer's units, venvs,
configuration, databases, Ceph's daemons and data, the OSD devices the plan gave Ceph zapped through the wipe guard),
the box itself stays (its management address, its provider NIC, SSH in the firewall, the controller's secrets), a
second destroy changes nothing, and the Ceph layer deploys new OSDs on the zapped devices in the same cluster."""

import json

import pytest
import yaml
from box import BOX, CEPH_SECRETS, OVERLAY, UNITS, VENVS, ciab, plan, results

from ciab import runner

# What stays installed: nginx (without the box's sites) and the base layer's own services.
KEPT_UNITS = {"nginx.service"}
GONE_PATHS = ["/etc/ceph", "/var/lib/ceph", VENVS, "/var/lib/mysql", "/var/lib/rabbitmq", "/var/lib/ovn",
              "/etc/keystone", "/etc/nova", "/etc/ciab/tls", "/etc/ciab/node-tls", "/etc/pki/libvirt-vnc",
              "/etc/openstack", "/etc/systemd/system/keystone.service", "/usr/local/bin/openstack",
              "/etc/systemd/system/ciab-overlay.service", "/usr/local/sbin/ciab-overlay"]  # fmt: skip
PURGED = ["ceph-mon", "ceph-osd", "radosgw", "mariadb-server", "rabbitmq-server", "memcached", "ovn-central",
          "openvswitch-switch", "libvirt-daemon-system"]  # fmt: skip


def osd_uuids(host):
    return sorted(o["uuid"] for o in json.loads(host.check_output("ceph osd dump --format json"))["osds"])


@pytest.fixture(scope="module")
def destroyed(host):
    """The OSDs before, and the destroy's exit code and events."""
    before = osd_uuids(host)
    code, events = ciab("-i", "sandbox", "destroy", "--yes-destroy", BOX)
    return before, code, events


def active_units(host):
    patterns = " ".join(f"'{u}'" for u in UNITS)
    out = host.check_output(f"systemctl list-units --no-legend --plain --state=active,activating {patterns}")
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_destroy_removes_every_layer(host, destroyed):
    _, code, events = destroyed
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    assert active_units(host) <= KEPT_UNITS
    assert [p for p in GONE_PATHS if host.file(p).exists] == []
    assert [p for p in PURGED if host.package(p).is_installed] == []
    # the guests' libvirt and the provider bridge went with their packages: nothing holds the provider NIC
    assert host.run("ovs-vsctl show").rc != 0
    # the overlay NIC has its address back, as before the deploy
    assert host.check_output("ip -4 -o addr show dev eth2").split()[3] == OVERLAY


def test_only_the_planned_osd_devices_were_zapped_and_they_read_blank(host, destroyed):
    devices = [d["path"] for d in plan()["osd"]["devices"]]
    assert devices
    for device in devices:
        # blkid -p: 2 = no signature at all (the BlueStore label is gone); the guard of the next deploy prepares it
        assert host.run(f"blkid -p {device}").rc == 2, device
        assert host.check_output(f"wipefs --noheadings {device}") == ""
    tasks = {e.get("task") for e in destroyed[2] if e["event"] == "ansible"}
    assert any("zap the planned OSD devices" in str(task) for task in tasks), "the zap step did not run"


def test_the_box_stays_reachable_with_its_addresses_and_ssh(host, destroyed):
    the_plan = plan()
    management, provider = the_plan["nic"]["management"]["name"], the_plan["nic"]["provider"]["name"]
    assert the_plan["ip"]["management"]["address"] in host.check_output(f"ip -4 -o addr show dev {management}")
    assert host.interface(provider).exists
    assert host.check_output(f"ip -4 -o addr show dev {provider}") == ""
    # only the base layer's port is left in the firewall; no layer's ports stay open
    public = host.check_output("nft -j list set inet ciab public_tcp")
    elements = json.loads(public)["nftables"][1]["set"].get("elem", [])
    assert elements == [22], elements
    assert host.check_output("ls /etc/ciab/firewall/layers") in ("", "base.nft")
    # the controller keeps the secrets: the next deploy makes the same cluster
    assert (CEPH_SECRETS / "cluster.yml").is_file()


def test_destroy_again_changes_nothing(destroyed):
    code, events = ciab("-i", "sandbox", "destroy", "--yes-destroy", BOX)
    assert code == runner.EXIT_OK
    [result] = results(events)
    assert result["changed"] == 0, result["stats"]


def test_deploy_makes_new_osds_on_the_zapped_devices(host, destroyed):
    """The deploy after a destroy is what test_restore's restore ran (every layer onto a destroyed box): here the
    Ceph layer alone shows that the zapped devices become new OSDs of the same cluster."""
    before = destroyed[0]
    code, events = ciab("-i", "sandbox", "deploy", "--limit", "ceph")
    assert code == runner.EXIT_OK, [f for r in results(events) for f in r["failures"]]
    after = osd_uuids(host)
    assert len(after) == len(before) and not set(after) & set(before)
    fsid = yaml.safe_load((CEPH_SECRETS / "cluster.yml").read_text())["fsid"]
    assert host.check_output("ceph fsid") == fsid
