"""Every role documents each public variable of defaults/main.yml in meta/argument_specs.yml, and nothing else;
ranges and formats argument_specs cannot express are refused by the role's preflight."""

import sys
from pathlib import Path

import pytest
import yaml

from ciab import runner

ROLES_DIR = Path(__file__).parents[2] / "roles"
ROLES = sorted(p for p in ROLES_DIR.iterdir() if p.is_dir())


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_match_defaults(role):
    defaults = yaml.safe_load((role / "defaults" / "main.yml").read_text()) or {}
    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    options = specs["main"].get("options", {})
    assert sorted(options) == sorted(defaults), f"{role.name}: argument_specs.yml and defaults/main.yml differ"
    for name, option in options.items():
        assert option.get("description"), f"{role.name}: {name} has no description"
        assert name.startswith(role.name + "_"), f"{role.name}: {name} lacks the prefix"


CEPH_INPUT_TASKS = ("Preflight | inputs are in range", "Preflight | public network and replicas")
CEPH_GOOD = {
    "ceph_osd_memory_target": 4294967296,
    "ceph_memory_reserved_mib": 3072,
    "ceph_pool_size": 0,
    "ceph_pool_min_size": 0,
    "ceph_pool_pg_num": 8,
    "ceph_pool_pg_num_min": 8,
    "ceph_rgw_port": 7480,
    "ceph_wait_retries": 60,
    "ceph_public_network": "192.0.2.0/24",
}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({}, None),
        ({"ceph_osd_memory_target": -5}, "ceph_osd_memory_target must be an integer of at least 939524096, got -5"),
        ({"ceph_pool_size": -1}, "ceph_pool_size must be an integer from 0 to 10, got -1"),
        ({"ceph_pool_size": 2, "ceph_pool_min_size": 3}, "testbox: ceph_public_network must be an IPv4 network"),
        ({"ceph_public_network": "banana"}, 'testbox: ceph_public_network must be an IPv4 network in CIDR form like '
                                            '192.0.2.0/24 (got "banana")'),
    ],
    ids=["good", "memory-target", "pool-size", "min-size", "cidr-banana"],
)  # fmt: skip
def test_ceph_preflight_refuses_inputs_out_of_range(tmp_path, bad, message):
    """The ceph role's input asserts (run on their own: the rest of the preflight reads the node) fail closed."""
    preflight = yaml.safe_load((ROLES_DIR / "ceph" / "tasks" / "preflight.yml").read_text())
    tasks = [task for task in preflight if task["name"] in CEPH_INPUT_TASKS]
    assert len(tasks) == len(CEPH_INPUT_TASKS)
    play = [
        {"name": "Ceph inputs", "hosts": "all", "gather_facts": False, "vars": {**CEPH_GOOD, **bad}, "tasks": tasks}
    ]
    playbook = tmp_path / "ceph_inputs.yml"
    playbook.write_text(yaml.safe_dump(play))
    inventory = tmp_path / "hosts.yml"
    inventory.write_text(f"all:\n  hosts:\n    testbox:\n      ansible_connection: local\n"
                         f"      ansible_python_interpreter: {sys.executable}\n")  # fmt: skip
    result = runner.run(str(playbook), inventory=inventory)
    if message is None:
        assert result.exit_code == runner.EXIT_OK, result.failures
        return
    assert result.exit_code == runner.EXIT_USAGE
    assert result.failures[0].msg.startswith(message)


def test_every_shared_task_file_has_an_entry_point():
    """ciab.box.openstack's task files the service roles include (tasks_from) declare their inputs as typed entry
    points of meta/argument_specs.yml, which include_role validates, instead of comments."""
    specs = yaml.safe_load((ROLES_DIR / "openstack" / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    included = set()

    def walk(tasks):
        for task in tasks or []:
            walk(task.get("block", []) + task.get("rescue", []) + task.get("always", []))
            include = task.get("ansible.builtin.include_role") or {}
            if include.get("name") == "ciab.box.openstack" and "tasks_from" in include:
                included.add(include["tasks_from"].removesuffix(".yml"))

    for path in ROLES_DIR.glob("*/tasks/*.yml"):
        walk(yaml.safe_load(path.read_text()))
    assert included, "no service role includes a task file of ciab.box.openstack"
    assert sorted(included - set(specs)) == []
    for name in included:
        assert specs[name].get("short_description"), name
        for option, spec in specs[name]["options"].items():
            assert option.startswith("__openstack_"), f"{name}: {option}"
            assert spec.get("description"), f"{name}: {option}"


def test_the_service_table_drives_every_openstack_service():
    """Each service of ciab.box.openstack's table is set up and started by its role through the table, each unit
    is an API or a daemon, and the services restart through the one shared handler (no restart handler of their
    own)."""
    table = yaml.safe_load((ROLES_DIR / "openstack" / "vars" / "main.yml").read_text())["__openstack_services"]
    for service, entry in table.items():
        text = "".join(p.read_text() for p in sorted((ROLES_DIR / service / "tasks").glob("*.yml")))
        for step in ("service_setup.yml", "service_start.yml"):
            assert f"tasks_from: {step}\n  vars:\n    __openstack_service_name: {service}\n" in text, (service, step)
        for unit in entry.get("units", []):
            assert ("api" in unit) != ("exec" in unit), unit["name"]
            assert unit.get("group", "controllers") in ("controllers", "computes"), unit["name"]
        own = ROLES_DIR / service / "handlers" / "main.yml"
        assert not own.exists() or f"{service} config changed" not in own.read_text(), service
    handlers = yaml.safe_load((ROLES_DIR / "openstack" / "handlers" / "main.yml").read_text())
    assert [h["name"] for h in handlers if h.get("listen") == "openstack config changed"] == [
        "Reload the systemd units",
        "Restart the OpenStack units older than their files",
    ]


SPEC_KEYS = {"type", "required", "default", "description", "choices", "elements", "options", "no_log", "aliases",
             "mutually_exclusive", "required_one_of"}  # fmt: skip


@pytest.mark.parametrize("role", ROLES, ids=lambda p: p.name)
def test_argument_specs_use_only_known_keys(role):
    """A comma in an unquoted description of a flow mapping makes a key of its own (ansible-lint refuses it)."""

    def unknown(options, path):
        for name, option in options.items():
            yield from (f"{'.'.join([*path, name])}: {key!r}" for key in set(option) - SPEC_KEYS)
            yield from unknown(option.get("options", {}), [*path, name])

    specs = yaml.safe_load((role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
    found = [u for entry, spec in specs.items() for u in unknown(spec.get("options", {}), [entry])]
    assert not found, found
