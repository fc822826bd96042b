"""playbooks/restore.yml's checks on the controller, before the box is looked at: an archive of other nodes, or
secrets on the controller that are not the archive's, stop the run as a bad input (exit 2) and change nothing."""

import tarfile
from pathlib import Path

import pytest
import yaml

from ciab import runner


def _archive(path: Path, nodes: list[str], secrets: dict[str, str]) -> Path:
    src = path.parent / "src"
    (src / "secrets").mkdir(parents=True)
    manifest = {"format": 1, "created": "20261205T090000Z", "layers": ["base"], "nodes": {n: {} for n in nodes}}
    (src / "manifest.yml").write_text(yaml.safe_dump(manifest))
    for name, text in secrets.items():
        (src / "secrets" / name).write_text(text)
    with tarfile.open(path, "w:gz") as tar:
        tar.add(src / "manifest.yml", "manifest.yml")
        tar.add(src / "secrets", "secrets")
    return path


@pytest.fixture
def box(tmp_path, local_inventory):
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    return local_inventory, secrets


def _restore(tmp_path, inv, secrets, archive):
    extravars = {"ciab_restore_archive": str(archive), "ciab_backup_dir": str(tmp_path / "backup"),
                 "ciab_secrets_dir": str(secrets), "ciab_plan_dir": str(tmp_path / "plan")}  # fmt: skip
    return runner.run("restore", inventory=inv, extravars=extravars)


def test_archive_of_other_nodes_is_refused(tmp_path, box):
    inv, secrets = box
    archive = _archive(tmp_path / "a.tar.gz", ["otherbox"], {"fsid": "1"})
    result = _restore(tmp_path, inv, secrets, archive)
    assert result.exit_code == runner.EXIT_USAGE
    [failure] = result.failures
    assert "the backup of otherbox" in failure.msg and "nodes are testbox" in failure.msg
    assert not (secrets / "fsid").exists()


def test_secrets_of_another_cloud_are_never_overwritten(tmp_path, box):
    inv, secrets = box
    (secrets / "fsid").write_text("2")
    archive = _archive(tmp_path / "a.tar.gz", ["testbox"], {"fsid": "1", "admin": "pw"})
    result = _restore(tmp_path, inv, secrets, archive)
    assert result.exit_code == runner.EXIT_USAGE
    [failure] = result.failures
    assert "not the archive's: fsid" in failure.msg and "move" in failure.msg
    assert (secrets / "fsid").read_text() == "2" and not (secrets / "admin").exists()


def test_a_file_that_is_no_archive_is_refused(tmp_path, box):
    inv, secrets = box
    result = _restore(tmp_path, inv, secrets, tmp_path / "missing.tar.gz")
    assert result.exit_code == runner.EXIT_USAGE
    assert "ciab_restore_archive must name the archive" in result.failures[0].msg
