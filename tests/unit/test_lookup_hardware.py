"""The ciab.box.hardware lookup: the plain function directly, the plugin through Ansible's own loader."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from ansible_collections.ciab.box.plugins.lookup.hardware import hardware

REPO = Path(__file__).resolve().parents[2]
REFBOX = Path(__file__).parent / "fixtures" / "refbox-epyc-2xnvme"
ANSIBLE = Path(sys.executable).with_name("ansible")


def test_all_parts_by_default():
    result = hardware(str(REFBOX))
    assert sorted(result) == ["default_route", "disks", "nics"]
    assert [d["name"] for d in result["disks"]] == ["nvme0n1", "nvme1n1"]
    assert result["default_route"]["interface"] == "eno1np0"


def test_selected_parts_only():
    assert list(hardware(str(REFBOX), ["default_route"])) == ["default_route"]
    assert sorted(hardware(str(REFBOX), ["nics", "disks"])) == ["disks", "nics"]


def test_include_loop_reaches_disk_discovery():
    root = str(REFBOX.parent / "vm-firecracker-virtio")
    loops = {d["name"]: d for d in hardware(root, ["disks"], include_loop=True)["disks"] if d["transport"] == "loop"}
    assert loops["loop0"]["eligible_for_osd"] is True
    assert all("is a loop device" not in d["reasons"] for d in loops.values())


def test_bad_term_names_the_argument():
    with pytest.raises(ValueError, match=r"^terms: unknown part\(s\) partitions"):
        hardware(str(REFBOX), ["disks", "partitions"])


def test_bad_root_names_the_argument(tmp_path):
    with pytest.raises(ValueError, match=r"^root: .* has no sys/ directory"):
        hardware(str(tmp_path))


LOADER_SCRIPT = """
import json, sys
from ansible.errors import AnsibleLookupError
from ansible.plugins.loader import init_plugin_loader, lookup_loader
init_plugin_loader([sys.argv[1]])
lookup = lookup_loader.get("ciab.box.hardware")
out = {"ok": lookup.run(["default_route"], variables={}, root=sys.argv[2])}
try:
    lookup.run(["bogus"], variables={}, root=sys.argv[2])
except AnsibleLookupError as exc:
    out["error"] = str(exc)
print(json.dumps(out))
"""


def test_plugin_options_and_errors_through_the_loader():
    """set_options/get_option need the documented options, which only Ansible's plugin loader registers."""
    done = subprocess.run(
        [sys.executable, "-c", LOADER_SCRIPT, str(REPO / ".collections"), str(REFBOX)],
        capture_output=True,
        text=True,
        check=True,
    )
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["ok"] == [{"default_route": {"interface": "eno1np0", "gateway": "10.10.0.1", "family": "inet"}}]
    assert out["error"].startswith("terms: unknown part(s) bogus")


def test_lookup_in_a_template():
    expression = f"{{{{ lookup('ciab.box.hardware', 'disks', root='{REFBOX}').disks | map(attribute='name') | list }}}}"
    done = subprocess.run(
        [str(ANSIBLE), "localhost", "-m", "ansible.builtin.debug", "-a", f"msg={expression}"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0", "ANSIBLE_STDOUT_CALLBACK": "minimal"},
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "nvme0n1" in done.stdout
    assert "nvme1n1" in done.stdout
