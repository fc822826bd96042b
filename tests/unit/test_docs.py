"""Every module, lookup and filter of the collection shows full docs in ansible-doc, and module docs match the code."""

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
ANSIBLE_DOC = Path(sys.executable).with_name("ansible-doc")
PLUGINS = (
    [("module", p.stem) for p in sorted((REPO / "plugins" / "modules").glob("*.py")) if p.stem != "__init__"]
    + [("lookup", p.stem) for p in sorted((REPO / "plugins" / "lookup").glob("*.py"))]
    + [("filter", p.stem) for p in sorted((REPO / "plugins" / "filter").glob("*.yml"))]
)


def ansible_doc(kind, name):
    env = {**os.environ, "ANSIBLE_CONFIG": str(REPO / "ansible.cfg")}
    done = subprocess.run(
        [str(ANSIBLE_DOC), "-t", kind, "--json", f"ciab.box.{name}"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "[ERROR]" not in done.stderr, done.stderr
    return json.loads(done.stdout)[f"ciab.box.{name}"]


def test_every_plugin_kind_is_present():
    kinds = {kind for kind, _ in PLUGINS}
    assert kinds == {"module", "lookup", "filter"}
    assert ("module", "disk_facts") in PLUGINS
    assert ("module", "nic_facts") in PLUGINS
    assert ("lookup", "hardware") in PLUGINS


@pytest.mark.parametrize(("kind", "name"), PLUGINS)
def test_ansible_doc_shows_full_docs(kind, name):
    doc = ansible_doc(kind, name)
    assert doc["doc"]["short_description"]
    assert doc["doc"]["description"]
    assert doc["examples"].strip()
    assert doc["return"] or (kind == "module" and doc["doc"].get("options") is not None)


@pytest.mark.parametrize("name", [name for kind, name in PLUGINS if kind == "module"])
def test_module_doc_options_match_argument_spec(name):
    module = importlib.import_module(f"ansible_collections.ciab.box.plugins.modules.{name}")
    spec = module.ARGUMENT_SPEC
    options = ansible_doc("module", name)["doc"].get("options") or {}
    assert sorted(options) == sorted(spec)
    for option, settings in spec.items():
        assert options[option].get("type", "str") == settings.get("type", "str"), option
        assert options[option].get("default") == settings.get("default"), option
        assert bool(options[option].get("required")) == bool(settings.get("required")), option
