"""Tests for a REAL box where ciab.box.k3s ran with verified artifacts and Ceph is deployed.

Not run by `molecule test -s k3s` (no k3s binary exists there). On a box with artifacts:

    .venv/bin/pytest -p no:cacheprovider --hosts=ssh://root@BOX molecule/k3s/real_box/

They create a PVC on the ceph-rbd StorageClass and a pod writing to it in the namespace ciab-k3s-test, and delete
both afterwards.
"""

import json
import time

import pytest

NAMESPACE = "ciab-k3s-test"
KUBECTL = "/usr/local/bin/k3s kubectl"
MANIFEST = """
apiVersion: v1
kind: Namespace
metadata: {name: ciab-k3s-test}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: rbd-pvc, namespace: ciab-k3s-test}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 1Gi}}
---
apiVersion: v1
kind: Pod
metadata: {name: rbd-writer, namespace: ciab-k3s-test}
spec:
  restartPolicy: Never
  containers:
    - name: writer
      image: busybox
      command: [sh, -c, "echo ciab > /data/probe && sync && cat /data/probe"]
      volumeMounts: [{name: data, mountPath: /data}]
  volumes:
    - name: data
      persistentVolumeClaim: {claimName: rbd-pvc}
"""


def _wait(host, cmd, want, timeout=300):
    deadline = time.monotonic() + timeout
    out = ""
    while time.monotonic() < deadline:
        out = host.run(cmd).stdout.strip()
        if out == want:
            return out
        time.sleep(5)
    journal = host.run("journalctl -u k3s --no-pager -n 100").stdout
    pytest.fail(f"{cmd!r} gave {out!r}, wanted {want!r}; k3s journal:\n{journal}")
    return out


def test_binary_is_the_pinned_release(host):
    assert host.file("/usr/local/bin/k3s").mode == 0o755
    assert host.run("/usr/local/bin/k3s --version").stdout.startswith("k3s version v")


def test_service_running(host):
    svc = host.service("k3s")
    assert svc.is_running
    assert svc.is_enabled


def test_node_ready(host):
    name = host.check_output("hostname")
    _wait(host, f"{KUBECTL} get node {name} -o jsonpath='{{.status.conditions[?(@.type==\"Ready\")].status}}'", "True")


def test_ceph_rbd_is_the_default_storage_class(host):
    classes = json.loads(host.check_output(f"{KUBECTL} get storageclass -o json"))["items"]
    default = [
        sc["metadata"]["name"]
        for sc in classes
        if sc["metadata"].get("annotations", {}).get("storageclass.kubernetes.io/is-default-class") == "true"
    ]
    assert default == ["ceph-rbd"]


@pytest.fixture
def rbd_workload(host):
    host.run_expect([0], f"{KUBECTL} apply -f - <<'EOF'\n{MANIFEST}\nEOF")
    yield
    host.run(f"{KUBECTL} delete namespace {NAMESPACE} --wait=true --timeout=180s")


def test_pvc_bound_and_pod_writes(host, rbd_workload):
    _wait(host, f"{KUBECTL} -n {NAMESPACE} get pvc rbd-pvc -o jsonpath='{{.status.phase}}'", "Bound")
    _wait(host, f"{KUBECTL} -n {NAMESPACE} get pod rbd-writer -o jsonpath='{{.status.phase}}'", "Succeeded")
    assert host.check_output(f"{KUBECTL} -n {NAMESPACE} logs rbd-writer") == "ciab"
