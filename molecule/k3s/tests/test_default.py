"""Verify ciab.box.k3s where no k3s binary exists: configuration rendered from the plan, artifacts gated.

What needs a running k3s (node Ready, PVC on ceph-rbd, kubeconfig) is in molecule/k3s/real_box/.
"""

import json
import os
import pathlib

import yaml

CONFIG = "/etc/rancher/k3s/config.yaml"
MANIFESTS = "/var/lib/rancher/k3s/server/manifests"
STAGING = "/var/lib/ciab/k3s/staging"


def _yaml_docs(host, path):
    return [doc for doc in yaml.safe_load_all(host.file(path).content_string) if doc]


def test_config_comes_from_the_plan(host):
    conf = host.file(CONFIG)
    assert conf.mode == 0o600
    data = yaml.safe_load(conf.content_string)
    assert data["node-ip"] == "192.0.2.10"
    assert data["flannel-iface"] == "eth0"
    assert data["cluster-cidr"] == "10.244.0.0/16"
    assert data["service-cidr"] == "10.96.0.0/12"
    assert data["cluster-init"] is True
    assert data["tls-san"] == ["192.0.2.10"]
    assert data["disable"] == ["traefik", "servicelb", "local-storage", "metrics-server"]


def test_memory_reservations_come_from_the_plan(host):
    data = yaml.safe_load(host.file(CONFIG).content_string)
    # total_mib 24105 - kubernetes_mib 2048 is reserved for everything but pods.
    assert data["kubelet-arg"] == ["system-reserved=memory=22057Mi", "kube-reserved=memory=512Mi"]


def test_unit_rendered_but_not_started(host):
    unit = host.file("/etc/systemd/system/k3s.service")
    for line in (
        "Type=notify",
        "ExecStart=/usr/local/bin/k3s server",
        "Restart=always",
        "KillMode=process",
        "Delegate=yes",
        "LimitNOFILE=1048576",
    ):
        assert unit.contains(f"^{line}$"), line
    show = host.check_output("systemctl show k3s --property=LoadState,ActiveState,UnitFileState")
    assert "LoadState=loaded" in show
    assert "ActiveState=inactive" in show
    assert "UnitFileState=disabled" in show


def test_nothing_installed_from_the_fake_bundle(host):
    assert not host.file("/usr/local/bin/k3s").exists
    assert not host.file("/var/lib/rancher/k3s/agent/images").exists
    # The fake files were verified in staging only, and stay there as plain files.
    fake = host.file(f"{STAGING}/k3s")
    assert fake.exists
    assert fake.mode == 0o600
    assert fake.content_string.startswith("not-a-k3s-binary")


def test_kubeconfig_not_exported_without_k3s():
    ephemeral = os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY")
    assert ephemeral, "run through molecule verify"
    assert not (pathlib.Path(ephemeral) / "kubeconfig.yaml").exists()


def test_ceph_csi_config_secret_and_default_storage_class(host):
    path = f"{MANIFESTS}/ciab-ceph-csi-rbd-config.yaml"
    assert host.file(path).mode == 0o600
    docs = {doc["kind"]: doc for doc in _yaml_docs(host, path)}
    config = json.loads(docs["ConfigMap"]["data"]["config.json"])
    assert config == [
        {"clusterID": "2f1e4a5c-8d0b-4c51-9a4e-5f0c3b7d9e21", "monitors": ["192.0.2.10:3300", "192.0.2.11:3300"]}
    ]
    assert docs["Secret"]["stringData"] == {"userID": "k8s", "userKey": "AQBtb2xlY3VsZS10ZXN0LWtleS1ub3QtcmVhbA=="}
    sc = docs["StorageClass"]
    assert sc["metadata"]["name"] == "ceph-rbd"
    assert sc["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"
    assert sc["provisioner"] == "rbd.csi.ceph.com"
    assert sc["parameters"]["pool"] == "kubernetes"
    assert sc["parameters"]["mapOptions"] == "ms_mode=prefer-crc"  # the cluster speaks msgr v2 only
    assert sc["parameters"]["clusterID"] == "2f1e4a5c-8d0b-4c51-9a4e-5f0c3b7d9e21"


def test_ceph_csi_driver_uses_the_mirrored_images(host):
    (chart,) = _yaml_docs(host, f"{MANIFESTS}/ciab-ceph-csi-rbd.yaml")
    assert chart["kind"] == "HelmChart"
    values = yaml.safe_load(chart["spec"]["valuesContent"])
    assert values["externallyManagedConfigmap"] is True
    assert values["secret"]["create"] is False
    assert values["storageClass"]["create"] is False
    assert values["nodeplugin"]["plugin"]["image"] == {
        "repository": "mirror.example:5000/cephcsi/cephcsi",
        "tag": "v3.14.2",
    }
    provisioner = values["provisioner"]["provisioner"]["image"]
    assert provisioner["repository"] == "mirror.example:5000/sig-storage/csi-provisioner"
