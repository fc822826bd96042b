"""Fail closed (issue #18): every bad input exits 2 with its message first, naming the variable and the fix.

Plans run for real (playbooks/plan.yml offline: ciab_plan_discover false, the reference box's facts in the inventory,
connection local); deploy/verify stand in the small layers/validation playbooks for site.yml/verify.yml.
"""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import pytest
import yaml
from ansible_collections.ciab.box.plugins.module_utils import plan as plan_utils
from plan_facts import offline_host

from ciab import cli, runner

PLAYBOOKS = runner.ROOT / "playbooks"


@pytest.fixture
def offline(tmp_path):
    """Write an inventory of hosts that plan offline from the reference box's facts; returns its path."""

    def write(hosts: dict[str, dict] | None = None, name: str = "hosts.yml") -> str:
        base = offline_host(tmp_path / "plan")
        hosts = {"testbox": {}} if hosts is None else hosts
        data = {"all": {"hosts": {h: {**copy.deepcopy(base), **v} for h, v in hosts.items()}}}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data))
        return str(path)

    return write


def ciab(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = cli.main(list(argv), out=out)
    return code, out.getvalue()


def bad_input(text: str) -> str:
    """The message of the first bad input the CLI printed (the line right after the progress)."""
    [line] = [line for line in text.splitlines() if line.startswith("bad input: ")][:1]
    return line.removeprefix("bad input: ")


# --- policies at plan time: the filter's message first, exit 2 ------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "message"),
    [
        (
            {"ciab_ip_policy": {"provider_cidr": "banana"}},
            "ciab.box.ip_plan: ciab_ip_policy.provider_cidr must be an IPv4 network in CIDR form like 172.24.4.0/24, "
            "got 'banana'",
        ),
        ({"ciab_ip_policy": "oops"}, "ciab.box.ip_plan: ciab_ip_policy must be a dict of policy keys, got str: 'oops'"),
        (
            {"ciab_ip_policy": {"provider_cidr": "224.1.0.0/24"}},
            "ciab.box.ip_plan: ciab_ip_policy.provider_cidr: 224.1.0.0/24 overlaps",
        ),
        (
            {"ciab_ip_policy": {"provider_cidr": "240.0.0.0/24"}},
            "ciab.box.ip_plan: ciab_ip_policy.provider_cidr: 240.0.0.0/24 overlaps",
        ),
        ({"ciab_nic_policy": {"provider": "lo"}}, "ciab.box.nic_roles: ciab_nic_policy.provider: lo is the loopback"),
        (
            {"ciab_nic_policy": {"management": "lo"}},
            "ciab.box.nic_roles: ciab_nic_policy.management: lo is the loopback",
        ),
        (
            {"ciab_ip_policy": {"management_interface": "lo"}},
            "ciab.box.ip_plan: ciab_ip_policy.management_interface: lo is",
        ),
        ({"ciab_osd_policy": {"min_size": 1}}, "ciab.box.osd_devices: ciab_osd_policy has unknown key(s) 'min_size'"),
        ({"ciab_memory_policy": {"banana": 1}}, "ciab.box.memory_budget: ciab_memory_policy has unknown key(s)"),
    ],
    ids=[
        "cidr-banana",
        "policy-str",
        "multicast",
        "reserved",
        "lo-provider",
        "lo-nic-mgmt",
        "lo-ip-mgmt",
        "osd",
        "mem",
    ],
)
def test_policy_error_is_a_bad_input_with_its_message_first(offline, host, message):
    code, text = ciab("-i", offline({"testbox": host}), "plan")
    assert code == runner.EXIT_USAGE
    assert bad_input(text).startswith(message)
    assert "Task failed" not in text and "_Ansible" not in text
    assert "task 'Build the plan'" in text  # where it happened, after the message


def test_a_good_plan_exits_0_with_a_summary(offline, tmp_path):
    code, text = ciab("-i", offline(), "plan")
    assert code == runner.EXIT_OK, text
    assert f"testbox: plan {tmp_path / 'plan' / 'testbox.yml'}" in text  # offline: no hardware discovered


def test_json_plan_ends_with_a_summary_of_hardware_and_plan(offline, tmp_path):
    code, text = ciab("-i", offline(), "--json", "plan")
    assert code == runner.EXIT_OK
    events = [json.loads(line) for line in text.splitlines()]
    assert [e["event"] for e in events[-2:]] == ["result", "summary"]
    summary = events[-1]
    assert summary["command"] == "plan"
    box = summary["hosts"]["testbox"]
    assert box["plan"]["nic"]["management"]["name"] == "eno1"
    assert [d["name"] for d in box["plan"]["osd"]["devices"]] == ["nvme0n1", "nvme1n1"]
    assert box["plan_file"] == str(tmp_path / "plan" / "testbox.yml")


def test_json_discover_summary_carries_the_hardware():
    out = io.StringIO()
    progress = cli.Progress(out, as_json=True)
    facts = {"ciab_disks": [{"name": "nvme0n1", "eligible_for_osd": True}], "ciab_nics": [{"name": "eno1"}]}
    event = {"event": "runner_on_ok", "event_data": {"host": "box1", "res": {"ansible_facts": facts}}}
    progress.runner_event(event)
    cli._hardware_summary(progress, "discover")
    summary = json.loads(out.getvalue().splitlines()[-1])
    assert summary == {
        "event": "summary",
        "elapsed": summary["elapsed"],
        "command": "discover",
        "hosts": {"box1": {"disks": facts["ciab_disks"], "nics": facts["ciab_nics"]}},
    }


def test_two_hosts_with_one_management_address_are_refused(offline):
    code, text = ciab("-i", offline({"box1": {}, "box2": {}}), "plan")
    assert code == runner.EXIT_USAGE
    assert bad_input(text).startswith("hosts box1 and box2 share the management address 192.0.2.10")


# --- inventories: parsed as Ansible parses them, no hosts or unparsable is exit 2 ------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "has no hosts"),
        ("all:\n  hosts: [a, b\n", "is not an Ansible inventory (YAML parsing failed"),
        ("- box1\n- box2\n", "is not an Ansible inventory (YAML inventory has invalid structure, it should be a "
                             "dictionary, got: list)"),
    ],
    ids=["empty", "malformed", "list-shaped"],
)  # fmt: skip
def test_bad_inventory_files_are_usage_errors(tmp_path, monkeypatch, content, message):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("ran a playbook on a bad inventory"))
    inv = tmp_path / "hosts.yml"
    inv.write_text(content)
    for command in (["plan"], ["discover"], ["destroy", "--yes-destroy", "box1"]):
        code, text = ciab("-i", str(inv), "--json", *command)
        assert code == runner.EXIT_USAGE, command
        error = json.loads(text.splitlines()[-1])
        assert error["event"] == "error" and message in error["text"], error
        assert "_Ansible" not in error["text"]


def test_a_file_that_is_no_inventory_is_a_usage_error_not_ok_0_tasks():
    code, text = ciab("-i", str(runner.ROOT / "README.md"), "--json", "plan")
    assert code == runner.EXIT_USAGE
    assert "README.md is not an Ansible inventory" in json.loads(text.splitlines()[-1])["text"]


def test_a_directory_with_one_bad_file_is_a_usage_error(tmp_path):
    (tmp_path / "good.yml").write_text("all:\n  hosts:\n    box1:\n")
    (tmp_path / "bad.yml").write_text("- box2\n")
    with pytest.raises(runner.CiabError, match=r"inventory .*bad\.yml is not an Ansible inventory"):
        runner.inventory_hosts(tmp_path)


def test_an_empty_inventory_argument_is_refused_not_the_whole_checkout(capsys):
    assert cli.main(["-i", "", "plan"], out=io.StringIO()) == runner.EXIT_USAGE
    assert "inventory is empty" in capsys.readouterr().err


def test_ini_inventory_works_for_destroy(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("destroy ran without confirmation"))
    inv = tmp_path / "hosts"
    inv.write_text("[ciab_nodes]\nbox1 ansible_host=192.0.2.11\nbox2 ansible_host=192.0.2.12\n")
    code, text = ciab("-i", str(inv), "destroy")
    assert code == runner.EXIT_REFUSED
    assert "box1, box2" in text


def test_a_300_character_host_name_is_refused_with_the_reason(offline, monkeypatch):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("planned a host with an unusable name"))
    code, text = ciab("-i", offline({"x" * 300: {}}), "--json", "plan")
    assert code == runner.EXIT_USAGE
    error = json.loads(text.splitlines()[-1])["text"]
    assert "(300 characters) is not a DNS name" in error
    assert "rename the host in the inventory" in error


def test_only_the_checkouts_sandbox_is_the_sandbox(tmp_path, monkeypatch):
    calls = []

    def fake_run(playbook, **kwargs):
        calls.append(playbook)
        return runner.RunResult(playbook=playbook, status="successful", rc=0, elapsed=0.1)

    monkeypatch.setattr(runner, "run", fake_run)
    inv = tmp_path / "sandbox"
    inv.mkdir()
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    box1:\n      ansible_host: 192.0.2.11\n")
    assert ciab("-i", str(inv), "destroy", "--yes-destroy", "box1")[0] == runner.EXIT_OK
    assert calls == ["destroy"]  # not "sandbox" (its down state tears down the local sandbox)
    assert cli._is_sandbox(runner.inventory_path("sandbox"))
    assert not cli._is_sandbox(inv)


# --- layers and role inputs: checked at the start of the run, before anything changes ------------------------------


def _stand_in(monkeypatch, playbook):
    """deploy/verify run the given small playbook instead of site.yml/verify.yml (which go on to change things)."""
    real_run = runner.run
    monkeypatch.setattr(runner, "run", lambda _playbook, **kw: real_run(str(PLAYBOOKS / playbook), **kw))


@pytest.mark.parametrize(
    ("layers", "got"), [(["base", "nova"], '["base", "nova"]'), ("base", '"base"'), (["bsae"], '["bsae"]')]
)
def test_unknown_layers_or_a_string_are_a_bad_input(offline, monkeypatch, layers, got):
    _stand_in(monkeypatch, "layers.yml")
    code, text = ciab("-i", offline({"testbox": {"ciab_layers": layers}}), "deploy")
    assert code == runner.EXIT_USAGE
    message = bad_input(text)
    assert message.startswith("ciab_layers must be a list of layers out of base, ceph, openstack, k3s")
    assert f"got {got}; fix ciab_layers in the inventory" in message


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"ceph_osd_memory_target": -5}, "ceph_osd_memory_target must be an integer of at least 939524096"),
        ({"ceph_pool_size": -1}, "ceph_pool_size must be an integer from 0 to 10"),
        ({"ceph_pool_pg_num": 0}, "ceph_pool_pg_num must be an integer from 1 to 32768"),
        ({"ceph_rgw_port": "http"}, 'ceph_rgw_port must be an integer from 1 to 65535 (a TCP port), got "http"'),
        ({"k3s_cluster_cidr": "banana"}, "k3s_cluster_cidr must be an IPv4 network in CIDR form like 10.42.0.0/16"),
        ({"ceph_public_network": "192.0.2.10/24"}, "ceph_public_network must be an IPv4 network in CIDR form"),
        ({"ciab_overlay_interface": "eth2"}, 'testbox: ciab_overlay_interface "eth2" and ciab_overlay_address ""'),
        ({"ciab_overlay_address": "10.0.9.11/24"}, 'testbox: ciab_overlay_interface "" and ciab_overlay_address'),
        ({"ciab_overlay_interface": "eth2", "ciab_overlay_address": "10.0.9.11"}, "testbox: ciab_overlay_interface"),
        ({"ciab_overlay_interface": "eth2", "ciab_overlay_address": "10.0.9.0/24"}, "testbox: ciab_overlay_interface"),
    ],
)
def test_role_inputs_out_of_range_are_a_bad_input(offline, monkeypatch, host, message):
    _stand_in(monkeypatch, "validate.yml")
    code, text = ciab("-i", offline({"testbox": host}), "deploy")
    assert code == runner.EXIT_USAGE
    assert bad_input(text).startswith(message)


def test_several_openstack_controllers_are_a_bad_input(offline):
    inv = Path(offline({"box1": {}, "box2": {}}))
    hosts = yaml.safe_load(inv.read_text())
    hosts["all"]["children"] = {"openstack_controllers": {"hosts": {"box1": None, "box2": None}}}
    inv.write_text(yaml.safe_dump(hosts))
    result = runner.run(str(PLAYBOOKS / "validate.yml"), inventory=inv)
    assert result.exit_code == runner.EXIT_USAGE
    assert result.failures[0].msg.startswith("the group openstack_controllers names box1, box2: a box has one")


def test_role_inputs_from_extra_vars_are_checked_and_good_ones_pass(offline):
    inv = offline(
        {
            "testbox": {
                "ceph_pool_size": 0,
                "ceph_osd_memory_target": 4294967296,
                "k3s_service_cidr": "10.43.0.0/16",
                "ciab_overlay_interface": "eth2",
                "ciab_overlay_address": "10.0.9.11/24",
            }
        }
    )
    assert runner.run(str(PLAYBOOKS / "validate.yml"), inventory=inv).exit_code == runner.EXIT_OK
    result = runner.run(str(PLAYBOOKS / "validate.yml"), inventory=inv, extravars={"ceph_rgw_port": 70000})
    assert result.exit_code == runner.EXIT_USAGE
    assert result.failures[0].msg.startswith("ceph_rgw_port must be an integer from 1 to 65535")


def test_site_and_plan_validate_their_inputs_first():
    for playbook in ("site.yml", "plan.yml"):
        first = yaml.safe_load((PLAYBOOKS / playbook).read_text())[0]
        assert first == {"name": "Inputs", "ansible.builtin.import_playbook": "validate.yml"}, playbook


# --- errors only Ansible's stdout had, and the marker ----------------------------------------------------------------


def test_a_playbook_ansible_cannot_parse_reaches_the_user(offline, tmp_path):
    playbook = tmp_path / "broken.yml"
    playbook.write_text("- name: Broken\n  hosts: all\n  tasks:\n    - name: Bad\n      ansible.builtin.debug:\n"
                        "        msg: [a\n")  # fmt: skip
    result = runner.run(str(playbook), inventory=offline())
    assert result.exit_code == runner.EXIT_USAGE
    [failure] = result.failures
    assert failure.msg.startswith("YAML parsing failed")
    assert f"Origin: {playbook}" in failure.msg


def test_role_argument_validation_is_a_bad_input():
    collector = runner._Collector(None)
    errors = ["argument 'ceph_pool_size' is of type str and we were unable to convert to int"]
    collector(
        {
            "event": "runner_on_failed",
            "event_data": {
                "host": "box1",
                "task": "Validating arguments against arg spec 'main'",
                "role": "ceph",
                "resolved_action": "ansible.builtin.validate_argument_spec",
                "res": {"msg": "Validation of arguments failed:\n" + errors[0], "argument_errors": errors},
            },
        }
    )
    [failure] = collector.failures
    assert failure.bad_input
    assert failure.msg == f"ceph: {errors[0]} (see its meta/argument_specs.yml)"


def test_input_marker_is_one_string_and_decides_alone():
    assert runner.INPUT_MARKER == plan_utils.INPUT_MARKER
    ansible_prefix = "Task failed: Finalization of task args for 'ansible.builtin.set_fact' failed: "
    assert runner.input_message(ansible_prefix + "[ciab-input] ciab.box.ip_plan: x") == "ciab.box.ip_plan: x"
    assert runner.input_message("ciab_layers must be a list") is None  # no marker: not a bad input
    assert runner.plain_types("got a '_AnsibleTaggedStr' and <class 'x._AnsibleTaggedList'>") == "got a 'str' and list"
    for path in (
        "playbooks/validate.yml",
        "playbooks/layers.yml",
        "playbooks/plan.yml",
        "roles/ceph/tasks/preflight.yml",
    ):
        for task in [t for play in yaml.safe_load((runner.ROOT / path).read_text()) for t in play.get("tasks", [play])]:
            if "ansible.builtin.assert" in task and task["name"].split(" | ")[-1] != "enough devices and memory":
                checks = task["ansible.builtin.assert"]
                if task["name"].startswith(("Inputs |", "Layers |", "Preflight | inputs", "Preflight | public")):
                    assert checks["fail_msg"].startswith(runner.INPUT_MARKER), (path, task["name"])
