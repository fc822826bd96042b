"""ansible.cfg's strategy ciab.box.linear: Mitogen's linear strategy when the mitogen package is importable, plain
linear with a warning when it is not. Both run a real play (local connection)."""

import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]
PLAY = [
    {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"ansible.builtin.command": "true", "changed_when": False, "loop": [1, 2]},
            {"ansible.builtin.stat": {"path": "/"}, "register": "root"},
            {"ansible.builtin.assert": {"that": ["root.stat.isdir"]}},
        ],
    }
]


def _play(tmp_path, play=PLAY, **env):
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(play))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"all:\n  hosts:\n    testbox:\n      ansible_connection: local\n"
                         f"      ansible_python_interpreter: {sys.executable}\n")  # fmt: skip
    environment = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", **env}
    environment.pop("ANSIBLE_STRATEGY", None)
    return subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", str(inventory), str(playbook), "-v"],
        cwd=ROOT, env=environment, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def test_the_configured_strategy_is_ours():
    text = (ROOT / "ansible.cfg").read_text()
    assert "\nstrategy = ciab.box.linear\n" in text


def test_mitogen_runs_the_play(tmp_path):
    done = _play(tmp_path, ANSIBLE_VERBOSITY="3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok=3" in done.stdout
    assert "mitogen is missing" not in done.stdout + done.stderr
    # Mitogen's local transport ran the modules in its interpreter: ansible.builtin.local would start a shell each
    assert "> EXEC /bin/sh" not in done.stdout


def test_without_mitogen_it_is_linear_with_a_warning(tmp_path):
    shadow = tmp_path / "shadow" / "ansible_mitogen"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('not installed here')\n")
    done = _play(tmp_path, PYTHONPATH=str(shadow.parent), ANSIBLE_VERBOSITY="3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok=3" in done.stdout
    assert "> EXEC /bin/sh" in done.stdout
    assert "the Python package mitogen is missing" in done.stdout + done.stderr


def test_a_play_with_background_jobs_runs_as_plain_linear(tmp_path):
    """Mitogen's async_status never sees a background job finish (Molecule's create hangs): such a play runs as
    plain linear, the next play of the same run under Mitogen again."""
    background = {
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"ansible.builtin.command": "sleep 1", "async": 60, "poll": 0, "register": "job", "changed_when": False},
            {
                "ansible.builtin.async_status": {"jid": "{{ job.ansible_job_id }}"},
                "register": "done",
                "until": "done.finished",
                "retries": 20,
                "delay": 1,
            },
        ],
    }
    done = _play(tmp_path, [background, {**PLAY[0], "tasks": PLAY[0]["tasks"][1:]}], ANSIBLE_VERBOSITY="3")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "ok=4" in done.stdout
    first, second = done.stdout.split("PLAY [all]")[1:]
    assert "> EXEC /bin/sh" in first
    assert "> EXEC /bin/sh" not in second
