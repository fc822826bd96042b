"""Verify ciab.box.ceph on the sandbox box: the cluster answers, data goes in and comes back, the wipe guard holds.

The OSD loop devices come from the box's plan, the secrets from the controller's .cache/secrets/ceph (this machine).
The guard is also run on this machine against a loop device that holds an ext4 filesystem (the box sees only its
own two disks).
"""

import json
import os
import shlex
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from pathlib import Path

import pytest
import yaml
from box import BOX, CEPH_SECRETS, ROOT, plan
from s3client import s3_request, s3_roundtrip
from waiting import wait_for

SECRETS = CEPH_SECRETS


def healthy(host, timeout=180):
    return wait_for(host, "ceph health", lambda out: out.strip() == "HEALTH_OK", timeout)


def osds_up(host, timeout=180):
    stat = wait_for(
        host,
        "ceph osd stat --format json",
        lambda out: json.loads(out)["num_osds"] == json.loads(out)["num_up_osds"] == json.loads(out)["num_in_osds"],
        timeout,
    )
    return json.loads(stat)


def no_crash_reports(host):
    """No daemon wrote a crash report, posted or not (ceph-crash posts only every 10 minutes)."""
    reports = host.run("find /var/lib/ceph/crash -mindepth 1 -maxdepth 2 -type d ! -name posted").stdout.split()
    assert reports == [], f"crash reports: {reports}"
    assert json.loads(host.check_output("ceph crash ls --format json")) == []


def short_name(host):
    return host.check_output("hostname -s")


@pytest.fixture(scope="module")
def cluster():
    return yaml.safe_load((SECRETS / "cluster.yml").read_text())


def gateway_answers(creds, timeout=180):
    """Wait until the gateway accepts connections (it may be coming back from a restart)."""
    endpoint = urllib.parse.urlsplit(creds["endpoint"])
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((endpoint.hostname, endpoint.port), timeout=5).close()
            return creds
        except OSError:
            assert time.monotonic() < deadline, f"the gateway at {creds['endpoint']} does not answer"
            time.sleep(3)


@pytest.fixture
def s3():
    """The S3 user's keys, once the gateway answers."""
    return gateway_answers(yaml.safe_load((SECRETS / "s3-ciab.yml").read_text()))


# -- the cluster -------------------------------------------------------------------------------------
def test_health_ok(host):
    assert healthy(host).strip() == "HEALTH_OK"


def test_manager_loads_its_modules_without_crash_reports(host):
    """Debian 13's ceph-mgr filed a crash report per module at each start without the shims (ceph_mgr_shims)."""
    name = short_name(host)
    # reset-failed: the packaged unit allows 3 starts in 30 minutes, and the next test restarts it again.
    host.run_expect([0], f"systemctl reset-failed ceph-mgr@{name}")
    host.run_expect([0], f"systemctl restart ceph-mgr@{name}")
    wait_for(host, "ceph mgr stat --format json", lambda out: json.loads(out)["available"])
    assert "always on" in host.check_output("ceph mgr module ls")
    wait_for(
        host, "ceph osd pool autoscale-status --format json", lambda out: len(json.loads(out)) > 0
    )  # pg_autoscaler
    health = json.loads(host.check_output("ceph health detail --format json"))
    assert not {"MGR_MODULE_ERROR", "MGR_MODULE_DEPENDENCY"} & set(health["checks"]), health
    no_crash_reports(host)


def test_two_osds_up_and_in_on_the_clean_loops(host):
    stat = osds_up(host)
    assert stat["num_osds"] == 2
    raw = json.loads(host.check_output("ceph-volume raw list --format json"))
    assert sorted(osd["device"] for osd in raw.values()) == sorted(d["path"] for d in plan()["osd"]["devices"])


def test_monitor_speaks_msgr2_only(host, cluster):
    monmap = json.loads(host.check_output("ceph mon dump --format json"))
    assert monmap["fsid"] == cluster["fsid"]
    addrs = monmap["mons"][0]["public_addrs"]["addrvec"]
    assert [a["type"] for a in addrs] == ["v2"]
    assert addrs[0]["addr"].endswith(":3300")


def test_every_connection_is_msgr2_secure_mode(host):
    """The monitor and the OSDs take only msgr2's secure mode (encrypted): a client that offers them only crc gets
    nowhere, the same client in secure mode gets its answer (ceph_ms_mode)."""
    for side in ("cluster", "service", "client"):
        assert host.check_output(f"ceph config show osd.0 ms_{side}_mode") == "secure", side
    assert host.run("timeout 20 ceph --ms_mon_client_mode=crc --connect-timeout 15 health").rc != 0
    # the monitor in secure mode, the OSDs asked in crc: the pool's listing never comes
    assert host.run("timeout 20 rados --ms_client_mode=crc -p volumes ls").rc != 0
    assert host.run("timeout 20 rados --ms_client_mode=secure -p volumes ls").rc == 0


def test_pools_replicated_for_one_host(host):
    pools = {p["pool_name"]: p for p in json.loads(host.check_output("ceph osd pool ls detail --format json"))}
    for name in ("images", "volumes", "vms", "backups", "kubernetes"):
        assert "rbd" in pools[name]["application_metadata"], name
    rule = json.loads(host.check_output("ceph osd crush rule dump ciab_replicated_osd --format json"))
    assert [s.get("type") for s in rule["steps"] if s["op"].startswith("choose")] == ["osd"]
    for name, pool in pools.items():
        assert (pool["size"], pool["min_size"], pool["crush_rule"]) == (2, 1, rule["rule_id"]), name


def test_client_config_on_the_controller_names_this_cluster(host, cluster):
    # What ciab.box.k3s (and any other client layer) reads: fsid and the monitors' v2 addresses.
    config = yaml.safe_load((SECRETS / "client-config.yml").read_text())
    assert config["fsid"] == cluster["fsid"]
    monmap = json.loads(host.check_output("ceph mon dump --format json"))
    assert config["mons"] == [a["addr"] for m in monmap["mons"] for a in m["public_addrs"]["addrvec"]]
    assert (config["pool_size"], config["failure_domain"]) == (2, "osd")  # one host, two OSDs
    assert (SECRETS / "client-config.yml").stat().st_mode & 0o077 == 0


def test_osd_memory_target_from_the_plan(host):
    target = plan()["memory"]["ceph_osd_memory_target_bytes"]
    assert host.check_output("ceph config get osd.0 osd_memory_target") == str(target)


def test_client_keys_have_least_privilege(host):
    glance = json.loads(host.check_output("ceph auth get client.glance --format json"))[0]["caps"]
    assert glance == {"mon": "profile rbd", "osd": "profile rbd pool=images", "mgr": "profile rbd pool=images"}
    k8s = json.loads(host.check_output("ceph auth get client.k8s --format json"))[0]["caps"]
    assert k8s["osd"] == "profile rbd pool=kubernetes"


def test_secrets_stay_private_on_the_controller():
    assert SECRETS.stat().st_mode & 0o777 == 0o700
    names = {p.name for p in SECRETS.iterdir()}
    assert {"cluster.yml", "s3-ciab.yml", "ceph.client.glance.keyring", "ceph.client.k8s.keyring"} <= names
    for path in SECRETS.iterdir():
        assert path.stat().st_mode & 0o777 == 0o600, path


# -- data in, data out ---------------------------------------------------------------------------------
def keyring_on_node(host, name):
    """Put the client's keyring (from the controller's secrets) on the node; returns its path."""
    path = f"/tmp/ceph.client.{name}.keyring"
    content = (SECRETS / f"ceph.client.{name}.keyring").read_text()
    host.run_expect([0], f"umask 077 && printf %s {shlex.quote(content)} > {path}")
    return path


def test_rbd_image_written_and_read_back_as_its_own_client(host):
    keyring = keyring_on_node(host, "k8s")
    as_k8s = f"--id k8s --keyring {keyring}"
    image = f"verify-{uuid.uuid4().hex[:8]}"
    host.run_expect([0], "head -c 16777216 /dev/urandom > /tmp/rbd-in")
    try:
        host.run_expect([0], f"rbd {as_k8s} import --pool kubernetes /tmp/rbd-in {image}")
        host.run_expect([0], f"rbd {as_k8s} export --pool kubernetes {image} /tmp/rbd-out")
        sums = host.check_output("sha256sum /tmp/rbd-in /tmp/rbd-out").split("\n")
        assert sums[0].split()[0] == sums[1].split()[0]
        # Least privilege: the k8s key may not touch the images pool.
        denied = host.run(f"rbd {as_k8s} import --pool images /tmp/rbd-in {image}")
        assert denied.rc != 0
    finally:
        host.run(f"rbd rm --pool kubernetes {image}; rm -f /tmp/rbd-in /tmp/rbd-out {keyring}")


def test_s3_put_and_get_on_the_gateway(s3):
    put, got = s3_roundtrip(s3, f"verify-{uuid.uuid4().hex[:8]}", 256 * 1024)
    assert got == put


def test_s3_refuses_a_wrong_secret(s3):
    with pytest.raises(urllib.error.HTTPError) as err:
        s3_request({**s3, "secret_key": "x" * 40}, "GET", "/")
    assert err.value.code == 403


# -- the wipe guard ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def ext4_loop(tmp_path_factory):
    """A loop device on this machine holding an ext4 filesystem with a file that must survive."""
    image = tmp_path_factory.mktemp("guard") / "ext4.img"
    subprocess.run(["truncate", "-s", "64M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-F", str(image)], check=True)
    subprocess.run(["debugfs", "-w", "-R", "write /etc/hostname KEEP-ME.txt", str(image)], check=True,
                   capture_output=True)  # fmt: skip
    device = subprocess.run(["losetup", "--find", "--show", str(image)], check=True, capture_output=True,
                            text=True).stdout.strip()  # fmt: skip
    digest = subprocess.run(["sha256sum", device], check=True, capture_output=True, text=True).stdout.split()[0]
    yield device, str(image), digest
    subprocess.run(["losetup", "--detach", device], check=False)


def ext4_intact(ext4):
    device, _, digest = ext4
    assert subprocess.run(["blkid", "-p", "-o", "value", "-s", "TYPE", device], capture_output=True, text=True,
                          check=False).stdout.strip() == "ext4"  # fmt: skip
    assert subprocess.run(["sha256sum", device], capture_output=True, text=True, check=True).stdout.split()[0] == digest


def guard(ext4, cluster, plan_devices):
    """Run the guard module on this machine's ext4 loop device for real (not in check mode); returns its result."""
    device = ext4[0]
    args = {"device": device, "plan": plan_devices, "cluster_fsid": cluster["fsid"], "allow_wipe": []}
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible")), "localhost", "-m", "ciab.box.ceph_osd_guard",
         "-a", json.dumps(args), "--one-line"],
        cwd=ROOT, capture_output=True, text=True, check=False,
        env={**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg")},
    )  # fmt: skip
    assert done.returncode != 0, f"the guard let {device} through: {done.stdout}"
    return done.stdout + done.stderr


def test_guard_refuses_an_ext4_disk_even_when_planned(cluster, ext4_loop):
    device, image, _ = ext4_loop
    planned = {"name": Path(device).name, "path": device, "by_id": None, "serial": None, "transport": "loop"}
    msg = guard(ext4_loop, cluster, [{**planned, "loop_backing_file": image, "action": "prepare"}])
    assert f"refused {device} (loop backing file {image}), found: carries ext4 filesystem signature" in msg
    assert f"add '{image}' to ceph_allow_wipe" in msg
    ext4_intact(ext4_loop)


def test_guard_refuses_a_device_that_is_not_planned(cluster, ext4_loop):
    msg = guard(ext4_loop, cluster, [])
    assert f"{ext4_loop[0]} is not in the plan (ceph_osd_devices lists nothing)" in msg
    ext4_intact(ext4_loop)


def test_no_osd_on_any_device_outside_the_plan(host):
    raw = json.loads(host.check_output("ceph-volume raw list --format json"))
    planned = {d["path"] for d in plan()["osd"]["devices"]}
    assert {osd["device"] for osd in raw.values()} == planned


# -- daemons come back -----------------------------------------------------------------------------
def test_units_enabled_for_boot(host):
    name = short_name(host)
    for unit in (f"ceph-mon@{name}", f"ceph-mgr@{name}", f"ceph-radosgw@rgw.{name}", "ciab-ceph-osd-activate"):
        assert host.service(unit).is_enabled, unit
    assert host.file("/etc/ceph/ciab-osds").contains("^0 ")


def test_daemons_survive_restarting_their_units(host, s3):
    name = short_name(host)
    for unit in (f"ceph-mon@{name}", f"ceph-mgr@{name}", "ceph-osd@0", "ceph-osd@1", f"ceph-radosgw@rgw.{name}"):
        host.run_expect([0], f"systemctl restart {unit}")
        assert host.service(unit).is_running, unit
    osds_up(host)
    healthy(host)
    wait_for(host, "ceph-volume raw list --format json", lambda out: len(json.loads(out)) == 2)
    assert s3_request(gateway_answers(s3), "GET", "/")[0] == 200
    no_crash_reports(host)


def test_everything_comes_back_after_a_container_restart(host, s3):
    """Last: restarts the container like a reboot; the raw OSDs' tmpfs directories are gone and re-activated."""
    subprocess.run(["docker", "restart", BOX], check=True, capture_output=True, timeout=120)
    # "degraded" is fine: units of the image that cannot work in a container (nvmf-autoconnect) fail.
    deadline = time.monotonic() + 120
    while host.run("systemctl is-system-running --wait").stdout.strip() not in ("running", "degraded"):
        assert time.monotonic() < deadline, "the container did not boot"
        time.sleep(3)
    assert host.service("ciab-ceph-osd-activate").is_running  # oneshot with RemainAfterExit: active
    osds_up(host, timeout=240)
    healthy(host, timeout=240)
    assert s3_request(gateway_answers(s3), "GET", "/")[0] == 200
    no_crash_reports(host)
