"""Unit tests run many short local plays: Ansible's plain linear strategy starts them ~3 s faster than Mitogen's
(ansible.cfg's ciab.box.linear), which pays off only over a long run. test_strategy.py checks Mitogen itself."""

import os

os.environ["ANSIBLE_STRATEGY"] = "linear"
