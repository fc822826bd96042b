"""roles/openstack tasks/migrate.yml, run for real on this machine: a service's database steps run in order when the
venv's lock or the steps differ from the record of the last completed run, or when the databases were just created;
a re-run runs nothing; a run that died before the record runs them again."""

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).parents[2]


def _run(tmp_path, steps, created=False, **more):
    log = tmp_path / "steps.log"
    play = {
        "hosts": "all",
        "gather_facts": False,
        "vars": {
            "openstack_venv_root": str(tmp_path),
            "__openstack_db_created": {"changed": created},
            "__openstack_venv_name": "svc",
            "__openstack_migrate": {"user": "root", "steps": steps, **more},
        },
        "tasks": [
            {
                "ansible.builtin.include_role": {"name": "ciab.box.openstack", "tasks_from": "migrate.yml"},
            }
        ],
    }
    (tmp_path / "play.yml").write_text(yaml.safe_dump([play]))
    (tmp_path / "hosts.yml").write_text(
        f"all:\n  hosts:\n    testbox:\n      ansible_connection: local\n      ansible_become_method: su\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_NOCOLOR": "1", "STEPS_LOG": str(log)}
    done = subprocess.run(
        [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "hosts.yml", "play.yml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    ran = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return done, ran


def step(name, rc=0, **extra):
    return {"argv": ["sh", "-c", f'echo {name} >> "$STEPS_LOG"; exit {rc}'], **extra}


def test_steps_run_once_per_lock_and_again_after_a_killed_run(tmp_path):
    venv = tmp_path / "svc"
    venv.mkdir()
    (venv / "ciab-lock.txt").write_text("keystone==29.0.0\n")
    steps = [step("api_db"), step("create_cell", rc=2, ok_rc=[0, 2], no_log=True), step("db")]

    done, ran = _run(tmp_path, steps)
    assert done.returncode == 0, done.stdout + done.stderr
    assert ran == ["api_db", "create_cell", "db"]  # in order; rc 2 allowed where listed
    assert "changed=2" in done.stdout  # the steps and the record

    done, ran = _run(tmp_path, steps)
    assert (done.returncode, ran) == (0, []), done.stdout
    assert "changed=0" in done.stdout

    (venv / "ciab-lock.txt").write_text("keystone==29.0.1\n")  # a new lock: the venv was reinstalled
    more = [*steps, step("online_data")]  # a step added by a new version of the role
    assert _run(tmp_path, more)[1] == ["api_db", "create_cell", "db", "online_data"]
    assert _run(tmp_path, more)[1] == []
    assert _run(tmp_path, more, created=True)[1] == ["api_db", "create_cell", "db", "online_data"]

    # a run that fails (or is killed) in the middle leaves the old record: the next run runs every step again
    done, ran = _run(tmp_path, [step("api_db"), step("broken", rc=1), step("db")])
    assert done.returncode != 0 and ran == ["api_db", "broken"]
    assert _run(tmp_path, [step("api_db"), step("db")])[1] == ["api_db", "db"]


def test_the_no_log_step_hides_its_output(tmp_path):
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "ciab-lock.txt").write_text("x\n")
    secret = {"argv": ["sh", "-c", "echo mysql+pymysql://nova:SECRET@db; exit 3"], "no_log": True}
    done, _ = _run(tmp_path, [secret])
    assert done.returncode != 0
    assert "SECRET" not in done.stdout + done.stderr
    assert json.dumps("SECRET") not in done.stdout


def test_changed_inputs_run_the_steps_again(tmp_path):
    """Horizon's static files: built again when the settings they are built from change, not on every run."""
    (tmp_path / "svc").mkdir()
    (tmp_path / "svc" / "ciab-lock.txt").write_text("horizon==27.0.0\n")
    steps = [step("collectstatic"), step("compress")]
    assert _run(tmp_path, steps)[1] == ["collectstatic", "compress"]
    assert _run(tmp_path, steps, inputs="")[1] == []  # no inputs is the same record as before inputs existed
    assert _run(tmp_path, steps, inputs="settings-sha1-a")[1] == ["collectstatic", "compress"]
    assert _run(tmp_path, steps, inputs="settings-sha1-a")[1] == []
    assert _run(tmp_path, steps, inputs="settings-sha1-b")[1] == ["collectstatic", "compress"]
