"""Unit tests run many short local plays: Ansible's plain linear strategy starts them ~3 s faster than Mitogen's
(ansible.cfg's ciab.box.linear), which pays off only over a long run. test_strategy.py checks Mitogen itself."""

import os
import sys

import pytest

os.environ["ANSIBLE_STRATEGY"] = "linear"


@pytest.fixture
def local_inventory(tmp_path):
    """An inventory of one node, testbox, that is this machine (a local connection with the tests' python)."""
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  children:\n    ciab_nodes:\n      hosts:\n        testbox:\n          ansible_connection: local\n"
        f"          ansible_python_interpreter: {sys.executable}\n"
    )
    return inv
