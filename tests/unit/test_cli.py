"""The ciab CLI and runner API: argument errors, real ansible-runner events, the destroy guard."""

import io
import json
import sys
from pathlib import Path

import pytest

from ciab import cli, runner

PLAYBOOKS = runner.ROOT / "tests" / "unit" / "playbooks"


@pytest.fixture
def local_inventory(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text(
        "all:\n  hosts:\n    testbox:\n      ansible_connection: local\n"
        f"      ansible_python_interpreter: {sys.executable}\n"
    )
    return inv


def test_run_collects_phases_stats_and_events(local_inventory):
    events = []
    result = runner.run(str(PLAYBOOKS / "two_plays.yml"), inventory=local_inventory, on_event=events.append)
    assert result.ok
    assert result.exit_code == runner.EXIT_OK
    assert result.tasks == 2
    assert result.changed == 1
    assert result.stats["testbox"]["ok"] == 2
    assert list(result.phases) == ["First phase", "Second phase"]
    assert any(e["event"] == "playbook_on_stats" for e in events)
    assert result.to_dict()["failures"] == []


def test_run_failure_names_task_host_and_fix(local_inventory):
    result = runner.run(str(PLAYBOOKS / "fails.yml"), inventory=local_inventory)
    assert not result.ok
    assert result.exit_code == runner.EXIT_FAILED
    [failure] = result.failures
    assert failure.host == "testbox"
    assert failure.task == "Fail like a missing privilege"
    assert "Permission denied" in failure.msg
    assert "run as root" in failure.hint


def test_unreachable_host_has_its_own_exit_code(tmp_path):
    inv = tmp_path / "hosts.yml"
    inv.write_text("all:\n  hosts:\n    gone:\n      ansible_host: 127.0.0.1\n      ansible_port: 1\n")
    result = runner.run(str(PLAYBOOKS / "two_plays.yml"), inventory=inv)
    assert result.exit_code == runner.EXIT_UNREACHABLE
    assert result.failures[0].unreachable
    assert "inventory" in result.failures[0].hint


def test_missing_playbook_and_inventory_are_usage_errors():
    with pytest.raises(runner.CiabError, match=r"playbook .*nope\.yml does not exist"):
        runner.playbook_path("nope")
    with pytest.raises(runner.CiabError, match=r"inventory no-such-box does not exist .*sandbox"):
        runner.inventory_path("no-such-box")
    out = io.StringIO()
    assert cli.main(["-i", "no-such-box", "--json", "plan"], out=out) == runner.EXIT_USAGE
    error = json.loads(out.getvalue().splitlines()[-1])
    assert error["event"] == "error"
    assert "no-such-box" in error["text"]


@pytest.mark.parametrize(
    "argv",
    [[], ["deploy", "--limit", "nova-and-friends"], ["sandbox", "sideways"], ["frobnicate"]],
)
def test_argument_errors_exit_2(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(argv)
    assert exc.value.code == runner.EXIT_USAGE
    assert "usage: ciab" in capsys.readouterr().err


def test_destroy_refuses_without_the_box_name(monkeypatch):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("destroy ran without confirmation"))
    out = io.StringIO()
    assert cli.main(["-i", "three-nodes", "destroy"], out=out) == runner.EXIT_REFUSED
    assert "--yes-destroy NAME" in out.getvalue()
    assert "box1, box2, box3" in out.getvalue()
    out = io.StringIO()
    assert cli.main(["-i", "three-nodes", "destroy", "--yes-destroy", "box9"], out=out) == runner.EXIT_REFUSED


def test_destroy_with_the_box_name_runs_for_that_box_only(monkeypatch):
    calls = []

    def fake_run(playbook, **kwargs):
        calls.append((playbook, kwargs))
        return runner.RunResult(playbook=playbook, status="successful", rc=0, elapsed=0.1)

    monkeypatch.setattr(runner, "run", fake_run)
    assert cli.main(["-i", "three-nodes", "destroy", "--yes-destroy", "box2"], out=io.StringIO()) == 0
    [(playbook, kwargs)] = calls
    assert playbook == "destroy"
    assert kwargs["limit"] == "box2"


def test_destroy_of_the_sandbox_removes_its_cloud_not_the_container(monkeypatch, tmp_path):
    """`ciab -i sandbox destroy` runs the real destroy in the box (`ciab sandbox down` removes the container) and
    forgets the layers deployed to it; a failed destroy forgets nothing."""
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    sandbox = tmp_path / "inventories" / "sandbox"
    sandbox.mkdir(parents=True)
    (sandbox / "hosts.yml").write_text("all:\n  hosts:\n    ciab-sandbox:\n      ansible_connection: local\n")
    cli._remember_layers(str(sandbox), ["base"])
    outcome, calls = {"rc": 2}, []

    def fake_run(playbook, **kwargs):
        calls.append((playbook, kwargs.get("limit")))
        status = "successful" if outcome["rc"] == 0 else "failed"
        return runner.RunResult(playbook=playbook, status=status, rc=outcome["rc"], elapsed=0.1)

    monkeypatch.setattr(runner, "run", fake_run)
    argv = ["-i", str(sandbox), "destroy", "--yes-destroy", "ciab-sandbox"]
    assert cli.main(argv, out=io.StringIO()) != runner.EXIT_OK
    assert cli._deployed_layers(str(sandbox)) == ["base"]
    outcome["rc"] = 0
    assert cli.main(argv, out=io.StringIO()) == runner.EXIT_OK
    assert calls == [("destroy", "ciab-sandbox")] * 2
    assert not cli._state_file(str(sandbox)).exists()


def test_progress_prints_phase_task_and_failure():
    out = io.StringIO()
    progress = cli.Progress(out, as_json=False)
    progress.runner_event({"event": "playbook_on_play_start", "event_data": {"play": "Base configuration"}})
    progress.runner_event({"event": "playbook_on_task_start", "event_data": {"task": "Apt | packages"}})
    progress.runner_event({"event": "runner_on_failed", "event_data": {"host": "box1"}})
    text = out.getvalue()
    assert "-- Base configuration" in text
    assert "Apt | packages" in text
    assert "FAILED on box1" in text


def test_json_output_is_one_event_per_line(local_inventory, monkeypatch):
    out = io.StringIO()
    real_run = runner.run
    # verify without --limit runs every play of verify.yml; stand in the small test playbook for it.
    monkeypatch.setattr(runner, "run", lambda playbook, **kw: real_run(str(PLAYBOOKS / "two_plays.yml"), **kw))
    assert cli.main(["-i", str(local_inventory), "--json", "verify"], out=out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0] == {"event": "step", "step": "verify", "elapsed": lines[0]["elapsed"]}
    assert any(e["event"] == "ansible" and e.get("task") == "Say hello" for e in lines)
    assert lines[-1]["event"] == "result"
    assert lines[-1]["ok"] is True
    assert lines[-1]["changed"] == 1


def test_layers_select_tags_and_ciab_layers():
    assert cli._layers(None) == {}
    assert cli._layers(["ceph"]) == {"tags": ["ceph"], "extravars": {"ciab_layers": ["ceph"]}}


def test_status_verifies_the_layers_deploy_recorded(local_inventory, monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    inventory = str(local_inventory)
    assert cli._deployed_layers(inventory) is None  # nothing recorded: the inventory's ciab_layers
    cli._remember_layers(inventory, ["ceph"])
    cli._remember_layers(inventory, ["base"])
    assert cli._deployed_layers(inventory) == ["base", "ceph"]  # in deploy order, accumulated
    calls = []

    class Seen(Exception):
        pass

    def record(playbook, **kw):
        calls.append((playbook, kw))
        raise Seen

    monkeypatch.setattr(runner, "run", record)
    with pytest.raises(Seen):
        cli.main(["-i", inventory, "status"], out=io.StringIO())
    assert calls[0][0] == "verify"
    assert calls[0][1]["tags"] == ["base", "ceph"]
    # status only reads: no smoke test (it makes servers)
    assert calls[0][1]["extravars"] == {"ciab_layers": ["base", "ceph"], "ciab_verify_smoke": False}
    cli._remember_layers(inventory, None)  # a full deploy: the inventory's layers again
    assert cli._deployed_layers(inventory) is None


def test_summary_prints_endpoints_clouds_and_how_to_reach_the_sandbox(monkeypatch, tmp_path):
    """What `ciab sandbox up` / `ciab deploy` print at the end, from the file playbooks/summary.yml wrote."""
    (tmp_path / ".cache" / "summary").mkdir(parents=True)
    (tmp_path / ".cache" / "summary" / "ciab-sandbox.yml").write_text(
        "host: ciab-sandbox\nlayers: [base, ceph, openstack]\n"
        "endpoints: {identity: 'https://172.31.240.2:5000', compute: 'https://172.31.240.2:8774/v2.1'}\n"
        "clouds: /x/clouds.yaml\nca: /x/pki/ca.crt\nclouds_names: [ciab-admin, ciab-demo]\n"
        "dashboard: {url: 'https://172.31.240.2/', domain: Default, user: demo, password_file: /x/passwords/demo}\n"
    )
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    real_inventories = Path(cli.__file__).resolve().parents[1] / "inventories"
    (tmp_path / "inventories").symlink_to(real_inventories)
    out = io.StringIO()
    progress = cli.Progress(out, as_json=False)
    progress.timings = [("sandbox", 12.0, 1), ("deploy", 600.4, 300)]
    cli._summary(progress, "sandbox", None)
    text = out.getvalue()
    assert "identity       https://172.31.240.2:5000" in text
    assert "openstack --os-cloud ciab-demo token issue" in text
    assert "sshuttle -r root@" in text and "172.31.240.0/24 172.31.241.0/24" in text
    assert "took:        sandbox 12s, deploy 600s" in text
    assert "dashboard:   https://172.31.240.2/  (domain Default, user demo, password in /x/passwords/demo)" in text
    out = io.StringIO()
    progress = cli.Progress(out, as_json=True)
    cli._summary(progress, "sandbox", None)
    [event] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert event["event"] == "summary"
    assert event["endpoints"]["compute"].endswith("/v2.1")
    assert event["layers"] == ["base", "ceph", "openstack"]
    assert event["clouds_names"] == ["ciab-admin", "ciab-demo"]
    assert event["dashboard"]["url"] == "https://172.31.240.2/"


def _playbook_writes(monkeypatch, path, text, ok=True):
    """runner.run stands in for a playbook that writes `text` to `path` under a fake checkout (runner.ROOT is
    path's checkout); a stale file there must be gone when it runs. Returns the calls it gets."""
    monkeypatch.setattr(runner, "ROOT", path.parents[2])
    path.parent.mkdir(parents=True)
    path.write_text("stale: true\n")
    calls = []

    def fake_run(playbook, **kw):
        calls.append((playbook, kw))
        assert not path.exists()  # no file of an earlier run is taken for this one
        path.write_text(text)
        return runner.RunResult(
            playbook=playbook, status="successful" if ok else "failed", rc=0 if ok else 2, elapsed=0.1
        )

    monkeypatch.setattr(runner, "run", fake_run)
    return calls


def test_verify_tempest_passes_the_set_and_prints_the_summary(local_inventory, monkeypatch, tmp_path):
    """`ciab verify --tempest [SET]`: the set reaches playbooks/verify.yml, an old summary is removed first, and the
    summary ciab.box.tempest wrote is printed after the run, also when tests failed."""
    calls = _playbook_writes(
        monkeypatch,
        tmp_path / ".cache" / "tempest" / "testbox.yml",
        "set: smoke\ncounts: {total: 3, passed: 1, skipped: 1, failed: 1}\nseconds: 42\n"
        "failed: [tempest.api.compute.servers.test_x.T.test_y]\nlog: /var/lib/ciab/tempest/logs/tempest.log\n",
        ok=False,
    )
    out = io.StringIO()
    assert cli.main(["-i", str(local_inventory), "verify", "--tempest"], out=out) == runner.EXIT_FAILED
    assert calls[0][0] == "verify"
    assert calls[0][1]["extravars"] == {"ciab_verify_tempest": "smoke"}
    text = out.getvalue()
    assert "Tempest (smoke): 3 tests in 42s: 1 passed, 1 skipped, 1 failed" in text
    assert "failed: tempest.api.compute.servers.test_x.T.test_y" in text
    cli.main(["-i", str(local_inventory), "verify", "--tempest", "api", "--limit", "openstack"], out=io.StringIO())
    assert calls[1][1]["extravars"] == {"ciab_layers": ["openstack"], "ciab_verify_tempest": "api"}
    with pytest.raises(SystemExit) as exc:
        cli.main(["-i", str(local_inventory), "verify", "--tempest", "full"], out=io.StringIO())
    assert exc.value.code == runner.EXIT_USAGE


def test_conformance_prints_one_line_per_requirement_with_the_accepted_ones(local_inventory, monkeypatch, tmp_path):
    """`ciab conformance`: an old result file is removed first, the one playbooks/conformance.yml wrote is printed
    (not met + openstack_conformance_accepted = accepted, with both reasons); --read-only turns the round trips off;
    --json gives the results as one event."""
    calls = _playbook_writes(
        monkeypatch,
        tmp_path / ".cache" / "conformance" / "testbox.yml",
        "results:\n"
        "- {id: scs-0103-flavor-1v-4, requirement: r, status: met, reason: SCS-1V-4, level: mandatory}\n"
        "- {id: scs-0123-service-load-balancer, requirement: r, status: not met, reason: not in the catalog,"
        " level: mandatory}\n"
        "- {id: scs-0114-encrypted-type, requirement: r, status: not met, reason: none, level: recommended}\n"
        "- {id: scs-0102-prop-os_distro, requirement: r, status: not applicable, reason: none,"
        " level: mandatory}\n"
        "accepted: {scs-0123-service-load-balancer: no Octavia yet}\n",
    )
    out = io.StringIO()
    assert cli.main(["-i", str(local_inventory), "conformance"], out=out) == runner.EXIT_OK
    assert calls[0][0] == "conformance" and calls[0][1]["extravars"] == {"ciab_conformance_live": True}
    lines = out.getvalue().splitlines()
    assert "SCS conformance (as the demo member): 1 met, 1 not met, 1 accepted, 1 not applicable" in lines
    assert any(
        line.split()[:2] == ["accepted", "scs-0123-service-load-balancer"]
        and line.endswith("no Octavia yet (not in the catalog)")
        for line in lines
    )
    assert any("scs-0114-encrypted-type" in line and "(recommended) none" in line for line in lines)
    out = io.StringIO()
    cli.main(["-i", str(local_inventory), "--json", "conformance", "--read-only"], out=out)
    assert calls[1][1]["extravars"] == {"ciab_conformance_live": False}
    [event] = [e for e in map(json.loads, out.getvalue().splitlines()) if e["event"] == "conformance"]
    assert [r["status"] for r in event["results"]] == ["met", "accepted", "not met", "not applicable"]


def test_sandbox_up_again_keeps_the_smoke_result_only_when_the_deploy_changed_nothing(monkeypatch, tmp_path):
    """`sandbox up` on a converged sandbox: the read-only checks run, the smoke test (servers) is left out when it
    passed after the last deploy and this deploy changed nothing; any change, a failure or `down` runs it again."""
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    (tmp_path / "inventories" / "sandbox").mkdir(parents=True)
    monkeypatch.setattr(cli, "_summary", lambda *a: None)
    changed = {"deploy": 5}
    verify_ok = {"ok": True}
    calls = []

    def fake_run(playbook, **kw):
        step = {"site": "deploy"}.get(playbook, playbook)
        calls.append((playbook, kw.get("extravars", {})))
        stats = {"ciab-sandbox": {"changed": changed.get(step, 0)}}
        good = playbook != "verify" or verify_ok["ok"]
        return runner.RunResult(playbook, "successful" if good else "failed", 0 if good else 2, 0.1, stats=stats)

    monkeypatch.setattr(runner, "run", fake_run)

    def up():
        calls.clear()
        out = io.StringIO()
        code = cli.main(["sandbox", "up"], out=out)
        [verify] = [extravars for playbook, extravars in calls if playbook == "verify"]
        return code, verify.get("ciab_verify_smoke", True), out.getvalue()

    assert up()[:2] == (runner.EXIT_OK, True)  # a first deploy: the smoke test runs
    changed["deploy"] = 0
    code, smoke, text = up()
    assert (code, smoke) == (runner.EXIT_OK, False)
    assert "the smoke test is left out: it passed after the last deploy and this deploy changed nothing" in text
    assert up()[1] is False  # kept again: nothing changed since it passed
    changed["deploy"] = 1
    assert up()[1] is True  # a change: it runs again
    verify_ok["ok"] = False
    changed["deploy"] = 0
    assert up()[:2] == (runner.EXIT_FAILED, False)
    verify_ok["ok"] = True
    assert up()[1] is True  # no result stands after a failed verify
    cli.main(["sandbox", "down"], out=io.StringIO())
    assert up()[1] is True  # down forgets it
    assert cli.main(["sandbox", "up", "--limit", "base"], out=io.StringIO()) == runner.EXIT_OK
    assert up()[1] is True  # a verify without the OpenStack layer ran no smoke test


def test_verify_no_smoke_leaves_the_smoke_test_out(local_inventory, monkeypatch):
    calls = []
    monkeypatch.setattr(
        runner, "run", lambda playbook, **kw: calls.append(kw) or runner.RunResult(playbook, "successful", 0, 0.1)
    )
    cli.main(["-i", str(local_inventory), "verify", "--no-smoke", "--tempest"], out=io.StringIO())
    assert calls[0]["extravars"] == {"ciab_verify_tempest": "smoke", "ciab_verify_smoke": False}


def _fake_runs(monkeypatch, calls, rc=0):
    def fake_run(playbook, **kwargs):
        calls.append((playbook, kwargs))
        return runner.RunResult(playbook=playbook, status="successful" if rc == 0 else "failed", rc=rc, elapsed=0.1)

    monkeypatch.setattr(runner, "run", fake_run)


def test_backup_writes_where_output_says(monkeypatch, tmp_path):
    calls = []
    _fake_runs(monkeypatch, calls)
    monkeypatch.setattr(cli, "_state_file", lambda inventory: tmp_path / "state.yml")
    assert cli.main(["-i", "three-nodes", "backup", "--output", str(tmp_path / "b.tar.gz")], out=io.StringIO()) == 0
    assert calls == [("backup", {"inventory": "three-nodes", "on_event": calls[0][1]["on_event"],
                                 "extravars": {"ciab_backup_file": str(tmp_path / "b.tar.gz")}})]  # fmt: skip
    calls.clear()
    out = io.StringIO()
    assert cli.main(["-i", "three-nodes", "backup"], out=out) == 0
    archive = calls[0][1]["extravars"]["ciab_backup_file"]
    assert archive.startswith(str(runner.ROOT / ".cache" / "backup" / "three-nodes-")) and archive.endswith(".tar.gz")
    assert f"backup: {archive} (mode 0600" in out.getvalue()
    # only the layers `ciab deploy --limit` deployed are backed up
    cli._remember_layers("three-nodes", ["base", "ceph"])
    calls.clear()
    assert cli.main(["-i", "three-nodes", "backup"], out=io.StringIO()) == 0
    assert calls[0][1]["extravars"]["ciab_layers"] == ["base", "ceph"]


def test_restore_needs_an_archive_file(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("restore ran without an archive"))
    assert cli.main(["-i", "three-nodes", "restore", str(tmp_path / "none.tar.gz")]) == runner.EXIT_USAGE
    assert "none.tar.gz is not a file" in capsys.readouterr().err


def test_restore_runs_the_restore_playbook_and_records_the_layers(monkeypatch, tmp_path):
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    inv = tmp_path / "box"
    inv.mkdir()
    (inv / "hosts.yml").write_text("all:\n  hosts:\n    box1:\n      ansible_connection: local\n")
    archive = tmp_path / "box1.tar.gz"
    archive.write_bytes(b"")
    calls = []
    _fake_runs(monkeypatch, calls, rc=2)
    assert cli.main(["-i", str(inv), "restore", str(archive)], out=io.StringIO()) != runner.EXIT_OK
    assert not cli._state_file(str(inv)).exists()
    _fake_runs(monkeypatch, calls)
    assert cli.main(["-i", str(inv), "restore", str(archive)], out=io.StringIO()) == runner.EXIT_OK
    assert [(p, k["extravars"]) for p, k in calls] == [("restore", {"ciab_restore_archive": str(archive)})] * 2
    assert cli._state_file(str(inv)).exists() and cli._deployed_layers(str(inv)) is None


def test_sandbox_up_with_two_nodes_deploys_the_two_box_inventory(monkeypatch, tmp_path):
    """`sandbox up --nodes 2` makes both boxes (ciab_sandbox_nodes=2) and runs discover -> plan -> deploy -> verify
    against inventories/sandbox-two; `down` removes both (the playbook's down state) and forgets both states."""
    monkeypatch.setattr(runner, "ROOT", tmp_path)
    for name in ("sandbox", "sandbox-two"):
        (tmp_path / "inventories" / name).mkdir(parents=True)
    monkeypatch.setattr(cli, "_summary", lambda *a: None)
    calls = []

    def fake_run(playbook, **kw):
        calls.append((playbook, kw.get("inventory"), kw.get("extravars", {})))
        return runner.RunResult(playbook, "successful", 0, 0.1, stats={})

    monkeypatch.setattr(runner, "run", fake_run)
    assert cli.main(["sandbox", "up", "--nodes", "2"], out=io.StringIO()) == runner.EXIT_OK
    assert calls[0][0] == "sandbox" and calls[0][2] == {"ciab_sandbox_state": "up", "ciab_sandbox_nodes": 2}
    assert [(playbook, inventory) for playbook, inventory, _ in calls[1:]] == [
        ("plan", "sandbox-two"), ("plan", "sandbox-two"), ("site", "sandbox-two"), ("verify", "sandbox-two"),
    ]  # fmt: skip
    assert cli._state_file("sandbox-two").is_file()
    assert cli._is_sandbox(tmp_path / "inventories" / "sandbox-two")
    calls.clear()
    assert cli.main(["sandbox", "down"], out=io.StringIO()) == runner.EXIT_OK
    assert [(playbook, extravars["ciab_sandbox_state"]) for playbook, _, extravars in calls] == [("sandbox", "down")]
    assert not cli._state_file("sandbox-two").exists()
    with pytest.raises(SystemExit):
        cli.main(["sandbox", "up", "--nodes", "3"], out=io.StringIO())
