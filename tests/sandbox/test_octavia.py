"""Octavia with the OVN provider on the sandbox: a TCP load balancer on the demo network whose member is a guest
serving HTTP (busybox httpd, it answers with its address), reached from this machine through the floating IP of
the load balancer's VIP: the provider network, OVN's gateway router (DNAT to the VIP) and OVN's load balancer."""

import json
import time
import urllib.request
import uuid

from box import OS_DEMO
from waiting import wait_for


def _get(url, timeout=120):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as answer:
                return answer.read().decode()
        except OSError:
            assert time.monotonic() < deadline, f"{url} does not answer"
            time.sleep(3)


def test_load_balancer_in_the_catalog_with_the_ovn_provider(host):
    providers = json.loads(host.check_output(f"{OS_DEMO} loadbalancer provider list -f json"))
    assert [p["name"] for p in providers] == ["ovn"], providers


def test_a_tcp_load_balancer_forwards_to_its_member(host):
    name = f"test-lb-{uuid.uuid4().hex[:6]}"
    made = []
    try:
        host.check_output(f"{OS_DEMO} security group create {name}")
        made.append(f"security group delete {name}")
        host.check_output(f"{OS_DEMO} security group rule create --protocol tcp --dst-port 80 --ingress {name}")
        server = json.loads(host.check_output(
            f"{OS_DEMO} server create -f json --image ciab-guest --flavor SCS-1L-1-5 --network demo-net "
            f"--security-group {name} --wait {name}"
        ))  # fmt: skip
        made.append(f"server delete --wait {server['id']}")
        [address] = server["addresses"]["demo-net"]
        lb = json.loads(host.check_output(
            f"{OS_DEMO} loadbalancer create -f json --provider ovn --vip-subnet-id demo-net-subnet --wait --name {name}"
        ))  # fmt: skip
        made.append(f"loadbalancer delete --cascade --wait {lb['id']}")
        assert lb["provisioning_status"] == "ACTIVE", lb
        lb_cmd = f"{OS_DEMO} loadbalancer"
        host.check_output(f"{lb_cmd} listener create --protocol TCP --protocol-port 80 --wait --name {name} {lb['id']}")
        host.check_output(
            f"{lb_cmd} pool create --protocol TCP --lb-algorithm SOURCE_IP_PORT --listener {name} --wait --name {name}"
        )
        host.check_output(
            f"{lb_cmd} member create --address {address} --subnet-id demo-net-subnet --protocol-port 80 --wait {name}"
        )
        fip = json.loads(host.check_output(f"{OS_DEMO} floating ip create -f json --port {lb['vip_port_id']} public"))
        made.append(f"floating ip delete {fip['id']}")
        wait_for(host, f"{OS_DEMO} console log show {server['id']}", lambda out: "ciab-guest: gateway" in out, 300)
        assert _get(f"http://{fip['floating_ip_address']}/").strip() == f"{address}/24"
        shown = json.loads(host.check_output(f"{lb_cmd} show -f json {lb['id']}"))
        assert (shown["provisioning_status"], shown["operating_status"]) == ("ACTIVE", "ONLINE"), shown
    finally:
        for command in reversed(made):
            host.run(f"{OS_DEMO} {command}")
