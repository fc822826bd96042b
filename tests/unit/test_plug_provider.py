"""roles/neutron/files/ciab-plug-provider: plug a NIC into the provider bridge, check, roll back.

The script's decisions are tested with stand-ins for ip, ping and ovs-vsctl on PATH (each logs its call; ping
answers as many times as the test allows). The aio scenario plugs a real veth into a real OVS bridge.
"""

import os
import stat
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).parents[2] / "roles/neutron/files/ciab-plug-provider"
ADDRESS = "192.0.2.10"

TOOLS = {
    # ip -4 -o addr show: the management address is there unless the test removed it.
    "ip": f'[ -e "$STATE/address-gone" ] || echo "2: eth0    inet {ADDRESS}/24 brd 192.0.2.255 scope global eth0"',
    # ping answers while $STATE/answers holds a positive count (each answer uses one).
    "ping": 'n=$(cat "$STATE/answers"); [ "$n" -gt 0 ] || exit 1; echo $((n - 1)) > "$STATE/answers"',
    # ovs-vsctl: port-to-br prints the bridge recorded by add-port; del-port forgets it.
    "ovs-vsctl": """
case "$*" in
  *port-to-br*) cat "$STATE/bridge" 2>/dev/null ;;
  *add-port*) echo "$3" > "$STATE/bridge"
              if [ -e "$STATE/plugging-cuts-address" ]; then touch "$STATE/address-gone"; fi ;;
  *del-port*) rm -f "$STATE/bridge" "$STATE/address-gone" ;;
esac
""",
}


@pytest.fixture
def run(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for name, body in TOOLS.items():
        tool = bin_dir / name
        tool.write_text(f'#!/bin/sh\necho "{name} $*" >> "$STATE/calls"\n{body}\n')
        tool.chmod(tool.stat().st_mode | stat.S_IXUSR)
    # The script's own sleep between plugging and checking is not part of what is tested.
    (bin_dir / "sleep").write_text("#!/bin/sh\n")
    (bin_dir / "sleep").chmod(0o755)

    def _run(answers, *, cuts_address=False):
        (tmp_path / "answers").write_text(str(answers))
        if cuts_address:
            (tmp_path / "plugging-cuts-address").touch()
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "STATE": str(tmp_path)}
        result = subprocess.run(
            [str(SCRIPT), "br-ex", "eth1", ADDRESS, "192.0.2.1"], env=env, capture_output=True, text=True, check=False
        )
        calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
        plugged = (tmp_path / "bridge").exists()
        return result, [c for c in calls if c.startswith("ovs-vsctl")], plugged

    return _run


def test_plugs_when_the_peer_answers_before_and_after(run):
    result, ovs, plugged = run(answers=2)
    assert result.returncode == 0, result.stderr
    assert "plugged eth1 into br-ex" in result.stdout
    assert plugged and any("add-port br-ex eth1" in c for c in ovs)


def test_rolls_back_when_the_peer_stops_answering(run):
    result, ovs, plugged = run(answers=1)
    assert result.returncode == 1
    assert "rolled back" in result.stderr and "eth1 is unplugged again" in result.stderr
    assert not plugged and any("del-port br-ex eth1" in c for c in ovs)


def test_rolls_back_when_the_management_address_goes(run):
    result, _, plugged = run(answers=5, cuts_address=True)
    assert result.returncode == 1 and "rolled back" in result.stderr
    assert not plugged


def test_refuses_to_touch_anything_when_the_peer_does_not_answer_first(run):
    result, ovs, plugged = run(answers=0)
    assert result.returncode == 1 and result.stderr.startswith("refused:")
    assert ovs == [] and not plugged


def test_nothing_to_do_when_already_plugged(run, tmp_path):
    (tmp_path / "bridge").write_text("br-ex\n")
    result, ovs, plugged = run(answers=5)
    assert result.returncode == 0 and "already in br-ex" in result.stdout
    assert not any("add-port" in c for c in ovs) and plugged


def test_usage_error_names_the_arguments():
    result = subprocess.run([str(SCRIPT), "br-ex"], capture_output=True, text=True, check=False, env=dict(os.environ))
    assert result.returncode == 2 and "BRIDGE NIC MANAGEMENT_ADDRESS PEER" in result.stderr
