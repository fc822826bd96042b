"""The Kubernetes layer on the sandbox box, after the Ceph layer: what can be checked without a k3s binary.

The sandbox's deploy skipped Kubernetes (no internet, no bundle: test_sandbox.py checks that). Here the layer runs
again in its configuration-only mode (k3s_release_url ""), as a user without artifacts may ask for it: the role
renders the configuration and the Ceph CSI manifests from what the Ceph layer wrote, and installs and starts
nothing. These tests check that the CSI inputs are the live cluster's and that the key works for what ceph-csi
does with it (create, map-less use and delete of RBD images in the kubernetes pool). Node Ready, a bound PVC and a
pod writing to it need the binary: molecule/k3s/real_box/.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from box import ROOT

MANIFESTS = "/var/lib/rancher/k3s/server/manifests"


@pytest.fixture(scope="module", autouse=True)
def k3s_layer(host):
    """The k3s layer in configuration-only mode on the deployed box."""
    done = subprocess.run(
        [str(Path(sys.executable).with_name("ansible-playbook")), "-i", "inventories/sandbox", "playbooks/k3s.yml",
         "-e", "k3s_release_url="],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]


def _csi_config(host):
    docs = [d for d in yaml.safe_load_all(host.file(f"{MANIFESTS}/ciab-ceph-csi-rbd-config.yaml").content_string) if d]
    return {d["kind"]: d for d in docs}


def test_csi_cluster_is_the_live_ceph_cluster(host):
    docs = _csi_config(host)
    clusters = json.loads(docs["ConfigMap"]["data"]["config.json"])
    fsid = host.check_output("ceph fsid")
    monmap = json.loads(host.check_output("ceph mon dump -f json"))
    v2 = sorted(a["addr"] for m in monmap["mons"] for a in m["public_addrs"]["addrvec"] if a["type"] == "v2")
    assert [c["clusterID"] for c in clusters] == [fsid]
    assert sorted(clusters[0]["monitors"]) == v2
    assert docs["StorageClass"]["parameters"]["clusterID"] == fsid
    assert docs["StorageClass"]["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"


def test_csi_key_is_client_k8s_and_works_on_the_kubernetes_pool(host):
    secret = _csi_config(host)["Secret"]["stringData"]
    pool = _csi_config(host)["StorageClass"]["parameters"]["pool"]
    assert secret["userID"] == "k8s"
    assert secret["userKey"] == host.check_output("ceph auth get-key client.k8s")
    assert pool in host.check_output("ceph osd pool ls").split()
    # What the CSI provisioner does with that key: create, resize and delete an image in the pool.
    keyfile = "/run/ciab-test-k8s.key"
    host.check_output(f"umask 077; printf %s {secret['userKey']} > {keyfile}")
    rbd = f"rbd --id k8s --keyfile {keyfile} -p {pool}"
    try:
        host.check_output(f"{rbd} create --size 64M --image-feature layering ciab-test-csi")
        host.check_output(f"{rbd} resize --size 128M ciab-test-csi")
        assert json.loads(host.check_output(f"{rbd} info ciab-test-csi --format json"))["size"] == 128 * 2**20
        assert host.run(f"{rbd.replace(pool, 'volumes')} ls").rc != 0  # no access beyond its pool
    finally:
        host.run(f"{rbd} rm ciab-test-csi")
        host.run(f"rm -f {keyfile}")


def test_k3s_configured_from_the_plan_but_not_installed_without_artifacts(host):
    config = yaml.safe_load(host.file("/etc/rancher/k3s/config.yaml").content_string)
    interface = host.check_output("ip -4 route show default").split()[4]  # default via GW dev IFACE
    address = host.check_output(f"ip -4 -o addr show dev {interface}").split()[3].split("/")[0]
    assert (config["node-ip"], config["flannel-iface"]) == (address, interface)
    assert not host.file("/usr/local/bin/k3s").exists
    assert not host.service("k3s").is_running
