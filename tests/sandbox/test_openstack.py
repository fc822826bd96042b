"""Verify the OpenStack core of the sandbox box: Keystone, Glance on Ceph and Placement answer over TLS.

Runs after test_ceph.py (which restarts the container), so every check first waits for the APIs to come back.
Commands run on the node with the admin's clouds.yaml; TLS is also checked from the controller (this machine) with
the CA the deploy made in .cache/secrets/openstack.
"""

import hashlib
import json
import shlex
import ssl
import urllib.error
import urllib.request
import uuid

import pytest
import yaml
from box import BOX, CLIENT, HELLO, NODE_TLS, OPENSTACK_SECRETS, OS_ADMIN, ROOT, VENVS, tls_probe
from units import running_unit_pid
from waiting import wait_for

SECRETS = OPENSTACK_SECRETS
OS = OS_ADMIN
# API unit: (port, user)
APIS = {
    "keystone": (5000, "keystone"),
    "glance": (9292, "glance"),
    "placement": (8778, "placement"),
    "cinder-api": (8776, "cinder"),
    "nova-api": (8774, "nova"),
    "neutron-api": (9696, "neutron"),
}
# uwsgi workers per API as the sandbox's inventory sets them
NODE_VARS = yaml.safe_load((ROOT / "inventories" / "sandbox" / "group_vars" / "ciab_nodes.yml").read_text())


def sdk(host, code):
    """Run Python ``code`` with openstacksdk connected as the admin (``conn``); returns its JSON output."""
    script = f"import json, openstack\nconn = openstack.connect(cloud='ciab-admin')\n{code}"
    return json.loads(host.check_output(f"{CLIENT}/python -c {shlex.quote(script)}"))


@pytest.fixture(scope="module")
def address(host):
    """The node's internal address, as the admin's clouds.yaml names it."""
    clouds = yaml.safe_load(host.file("/etc/openstack/clouds.yaml").content_string)
    return clouds["clouds"]["ciab-admin"]["auth"]["auth_url"].split("//")[1].split(":")[0]


@pytest.fixture(scope="module", autouse=True)
def apis_answer(host):
    """Every API answers (they may be coming back from the container restart of test_ceph.py)."""
    wait_for(host, f"{OS} token issue -f value -c id", timeout=300)


# -- identity ----------------------------------------------------------------------------------------
def test_token_issue(host):
    token = json.loads(host.check_output(f"{OS} token issue -f json"))
    assert token["id"] and token["project_id"] and token["user_id"]


def test_catalog_lists_the_three_services_over_tls(host, address):
    catalog = {entry["Type"]: entry for entry in json.loads(host.check_output(f"{OS} catalog list -f json"))}
    assert {"identity", "image", "placement"} <= set(catalog)
    for service_type, port in (("identity", 5000), ("image", 9292), ("placement", 8778)):
        urls = {e["interface"]: e["url"] for e in catalog[service_type]["Endpoints"]}
        assert {"public", "internal"} <= set(urls), service_type
        assert all(url.startswith(f"https://{address}:{port}") for url in urls.values()), urls


def test_service_users_hold_the_service_role(host):
    # neutron is also an admin: Nova finds the instances of Neutron's port events only for an admin.
    for user, roles in [
        ("glance", ["service"]),
        ("placement", ["service"]),
        ("cinder", ["service"]),
        ("nova", ["service"]),
        ("neutron", ["admin", "service"]),
    ]:
        out = host.check_output(f"{OS} role assignment list --user {user} --project service --names -f json")
        assert sorted(a["Role"] for a in json.loads(out)) == roles, user


# -- image -------------------------------------------------------------------------------------------
def test_image_upload_download_byte_identical_on_rbd(host):
    name = f"ciab-test-{uuid.uuid4().hex[:8]}"
    src, back = f"/tmp/{name}.raw", f"/tmp/{name}.back"
    host.check_output(f"head -c 3145728 /dev/urandom > {src}")
    image_id = None
    try:
        image = json.loads(
            host.check_output(
                f"{OS} image create --disk-format raw --container-format bare --file {src} --private -f json {name}"
            )
        )
        image_id = image["id"]
        shown = json.loads(host.check_output(f"{OS} image show -f json {image_id}"))
        assert shown["status"] == "active"
        host.check_output(f"{OS} image save --file {back} {image_id}")
        assert host.file(back).sha256sum == host.file(src).sha256sum
        # The bytes live in Ceph's images pool (the RBD store), as client.glance wrote them.
        assert image_id in host.check_output("rbd --id glance --pool images ls").split()
    finally:
        if image_id:
            host.run(f"{OS} image delete {image_id}")
        host.run(f"rm -f {src} {back}")
    assert image_id not in host.check_output("rbd --pool images ls").split()


# -- placement ---------------------------------------------------------------------------------------
def test_placement_answers(host):
    providers = sdk(host, "print(json.dumps([rp.name for rp in conn.placement.resource_providers()]))")
    assert providers == [host.check_output("hostname")]  # the compute node (Nova on this node)
    version = sdk(host, "print(json.dumps(conn.placement.get('/').json()))")
    assert version["versions"][0]["status"] == "CURRENT"


# -- how they run ------------------------------------------------------------------------------------
@pytest.mark.parametrize("service", sorted(APIS))
def test_api_runs_under_uwsgi_as_its_own_user(host, service):
    pid = running_unit_pid(host, service)
    assert host.file(f"/proc/{pid}/cmdline").content_string.split("\0")[:2] == ["/usr/bin/uwsgi", "--ini"]
    assert host.check_output(f"ps -o user= -p {pid}") == APIS[service][1]
    workers = host.check_output(f"ps -o pid= --ppid {pid}").split()
    want = NODE_VARS["openstack_uwsgi_processes_per_api"].get(service, NODE_VARS["openstack_uwsgi_processes"])
    assert len(workers) == want, workers


def test_apis_verify_against_the_deploys_ca_from_the_controller(address):
    context = ssl.create_default_context(cafile=str(SECRETS / "pki" / "ca.crt"))
    for service, (port, _user) in APIS.items():
        try:  # the version documents: 200, or 300 Multiple Choices (urllib raises on 3xx without a Location)
            with urllib.request.urlopen(f"https://{address}:{port}/", context=context, timeout=30) as answer:
                status = answer.status
        except urllib.error.HTTPError as error:
            status = error.code
        assert status in (200, 300), service
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen(f"https://{address}:5000/", context=ssl.create_default_context(), timeout=30)


def test_version_documents_link_to_the_apis_own_port(address):
    """The front end passes the Host with its port: a client following a version link (Tempest's
    test_get_version_details, SDK version discovery) reaches the same API, not port 443."""
    context = ssl.create_default_context(cafile=str(SECRETS / "pki" / "ca.crt"))
    for service, (port, _user) in APIS.items():
        try:
            with urllib.request.urlopen(f"https://{address}:{port}/", context=context, timeout=30) as answer:
                body = answer.read()
        except urllib.error.HTTPError as error:  # 300 Multiple Choices
            body = error.read()
        links = [link["href"] for link in _links(json.loads(body)) if link.get("rel") == "self" and link["href"]]
        # placement's document links nowhere (href ""); every other one links to its versions
        assert links or service == "placement", service
        assert all(href.startswith(f"https://{address}:{port}/") for href in links), (service, links)


def _links(document):
    """Every "links" entry anywhere in a JSON document."""
    if isinstance(document, dict):
        yield from document.get("links", []) if isinstance(document.get("links"), list) else []
        for value in document.values():
            yield from _links(value)
    elif isinstance(document, list):
        for value in document:
            yield from _links(value)


def test_services_restart_cleanly(host):
    host.check_output("systemctl restart " + " ".join(APIS))
    for service in APIS:
        assert host.service(service).is_running, service
    wait_for(host, f"{OS} token issue -f value -c id", timeout=120)
    wait_for(host, f"{OS} image list -f value", timeout=120)
    sdk(host, "print(json.dumps(conn.placement.get('/').status_code))")


# -- infrastructure ----------------------------------------------------------------------------------
def test_backends_on_loopback_and_the_apis_on_the_internal_address(host, address):
    """One controller: MariaDB, RabbitMQ (and epmd, its distribution port), memcached, OVN's databases and the
    console proxy behind its TLS front end listen on loopback; the APIs and their front ends on the internal
    address, and so do the other nodes' TLS ports (RabbitMQ's, OVN's southbound pssl)."""
    listening = host.check_output("ss -Hltn").split("\n")
    local = {line.split()[3] for line in listening if line.strip()}

    def bound(port):
        return {addr for addr in local if addr.rsplit(":", 1)[1] == str(port)}

    for port in (3306, 5672, 4369, 25672, 11211, 6641, 6081):
        assert bound(port) == {f"127.0.0.1:{port}"}, (port, bound(port))
    assert bound(6642) == {"127.0.0.1:6642", f"{address}:6642"}
    assert bound(5671) == {f"{address}:5671"}
    for port in (6080, *(port for port, _user in APIS.values())):
        assert bound(port) == {f"{address}:{port}"}, (port, bound(port))


# The other nodes' way in (with one controller the backends are on loopback): RabbitMQ's TLS port and OVN's
# southbound pssl on the node's address, both with the node certificate of the box's CA and refusing a client without
# one. On the box itself (the firewall lets only the nodes reach them: test_exposure).
@pytest.mark.parametrize("port", sorted(HELLO))
def test_the_nodes_tls_ports_answer_a_node_certificate_only(host, address, port):
    with_cert = tls_probe(host, address, port, with_certificate=True)
    assert with_cert.startswith("ANSWERED TLSv1.3"), with_cert
    answer = bytes.fromhex(with_cert.split()[2])
    if port == 5671:  # a method frame on channel 0: connection.start (class 10, method 10)
        assert answer[:3] == b"\x01\x00\x00" and answer[7:11] == b"\x00\x0a\x00\x0a", answer
    else:
        assert b"OVN_Southbound" in answer, answer
    without = tls_probe(host, address, port, with_certificate=False)
    assert without.startswith(("REFUSED", "CLOSED")), without


def test_rabbitmq_logs_a_node_in_over_tls(host, address):
    """What a compute node's nova does: its RabbitMQ user, over the TLS port, with the node's certificate."""
    login = (
        "import amqp, sys\n"
        "tls = {'ca_certs': sys.argv[3], 'certfile': sys.argv[4], 'keyfile': sys.argv[5], 'cert_reqs': 2,"
        " 'server_hostname': sys.argv[1]}\n"
        "connection = amqp.Connection(host=sys.argv[1] + ':5671', userid='nova', password=sys.argv[2],"
        " virtual_host='openstack', ssl=tls, connect_timeout=10)\n"
        "connection.connect()\n"
        "print(connection.server_properties['product'], connection.sock.version())\n"
        "connection.close()\n"
    )
    password = (SECRETS / "passwords" / "nova-rabbitmq").read_text().strip()
    out = host.check_output(
        f"{VENVS}/nova/bin/python -c {shlex.quote(login)} {address} {shlex.quote(password)}"
        f" {NODE_TLS['ca']} {NODE_TLS['crt']} {NODE_TLS['key']}"
    )
    assert out.startswith("RabbitMQ TLSv1"), out


def test_ovn_southbound_over_ssl_lets_a_chassis_change_only_its_own(host, address):
    """The node certificate names the chassis (RBAC role ovn-controller): it reads the southbound database and may
    not change what is not its chassis's."""
    sb = f"ovn-sbctl --timeout 15 --db ssl:{address}:6642 -p {NODE_TLS['key']} -c {NODE_TLS['crt']} -C {NODE_TLS['ca']}"
    assert BOX in host.check_output(f"{sb} --bare --columns name list Chassis").split()
    denied = host.run(f"{sb} set SB_Global . external_ids:ciab-test=1")
    assert denied.rc != 0 and "permission error" in denied.stderr, denied.stderr
    assert "ciab-test" not in host.check_output("ovn-sbctl get SB_Global . external_ids")


def test_rabbitmq_answers_without_guest(host):
    host.check_output("rabbitmq-diagnostics -q ping")
    users = host.check_output("rabbitmqctl -q list_users --formatter json")
    assert "guest" not in [u["user"] for u in json.loads(users)]
    assert "openstack" in host.check_output("rabbitmqctl -q list_vhosts name").split()


def test_mariadb_root_by_socket_only_and_each_service_to_its_own_database(host):
    password = (SECRETS / "passwords" / "keystone-db").read_text().strip()
    sql = f"mariadb --host 127.0.0.1 --user keystone --password={password}"
    assert host.check_output(f"{sql} --batch -N -e 'SELECT 1' keystone") == "1"
    assert host.run(f"{sql} -e 'SELECT 1' glance").rc != 0  # no access to another service's database
    assert host.run(f"mariadb --host {address} --user root -e 'SELECT 1'").rc != 0  # root: unix socket only
    assert host.check_output("mariadb -N -e 'SELECT CURRENT_USER()'") == "root@localhost"


def test_secrets_are_generated_and_private(host):
    passwords = sorted(p.name for p in (SECRETS / "passwords").iterdir())
    assert passwords == [
        *("admin", "barbican", "barbican-db", "barbican-kek", "cinder", "cinder-db", "cinder-rabbitmq", "demo"),
        *("demo-manager", "glance", "glance-db", "horizon-secret-key", "keystone-db", "neutron", "neutron-db"),
        *("neutron-rabbitmq", "nova", "nova-db", "nova-rabbitmq", "octavia", "octavia-db", "placement"),
        *("placement-db", "swift"),
    ]
    for path in [*(SECRETS / "passwords").iterdir(), SECRETS / "clouds.yaml", SECRETS / "pki" / "ca.key"]:
        assert path.stat().st_mode & 0o077 == 0, path
    for path in (SECRETS / "passwords").iterdir():
        assert len(path.read_text().strip()) == (64 if path.name == "horizon-secret-key" else 32), path
    assert host.file("/etc/openstack/clouds.yaml").mode == 0o600
    assert host.file("/etc/ciab/tls/api.key").mode == 0o640
    digests = {hashlib.sha256((SECRETS / "passwords" / p).read_bytes()).hexdigest() for p in passwords}
    assert len(digests) == len(passwords)


def test_glance_lists_the_metadata_definitions(host):
    """The namespaces the glance wheel ships are loaded (Tempest's metadefs tests found none: an empty list)."""
    namespaces = json.loads(host.check_output(f"{OS} image metadef namespace list -f json"))
    assert "OS::Compute::CPUPinning" in {n["namespace"] for n in namespaces}, namespaces
    token = host.check_output(f"{OS} token issue -f value -c id")
    url = host.check_output(f"{OS} endpoint list --service image --interface public -f value -c URL")
    types = json.loads(
        host.check_output(
            f"curl -fsS --cacert /etc/ciab/tls/ca.crt -H 'X-Auth-Token: {token}' {url}/v2/metadefs/resource_types"
        )
    )["resource_types"]
    assert "OS::Nova::Flavor" in {t["name"] for t in types}


def test_glance_takes_a_chunked_upload(host):
    """A body sent with Transfer-Encoding: chunked (Nova's snapshots, Cinder's uploads) is stored whole: the front end
    passes the body with its length, and Glance answered 500 "unable to receive chunked part" before. The image is
    made with the API itself (OSC's image create reads its standard input when that is no terminal)."""
    name = f"ciab-test-{uuid.uuid4().hex[:8]}"
    image_id = None
    token = host.check_output(f"{OS} token issue -f value -c id")
    url = host.check_output(f"{OS} endpoint list --service image --interface public -f value -c URL")
    curl = f"curl -sS --cacert /etc/ciab/tls/ca.crt -H 'X-Auth-Token: {token}'"
    try:
        body = json.dumps({"name": name, "disk_format": "raw", "container_format": "bare"})
        image_id = json.loads(
            host.check_output(f"{curl} -X POST -H 'Content-Type: application/json' -d '{body}' {url}/v2/images")
        )["id"]
        host.check_output(f"head -c 3145728 /dev/urandom > /tmp/{name}")
        code = host.check_output(
            f"{curl} -o /dev/null -w '%{{http_code}}' -X PUT -H 'Content-Type: application/octet-stream' "
            f"-H 'Transfer-Encoding: chunked' --data-binary @/tmp/{name} {url}/v2/images/{image_id}/file"
        )
        assert code == "204", code
        image = json.loads(host.check_output(f"{OS} image show -f json {image_id}"))
        assert image["status"] == "active" and image["size"] == 3145728
        assert image["checksum"] == host.check_output(f"md5sum /tmp/{name}").split()[0]
    finally:
        if image_id:
            host.run(f"{OS} image delete {image_id}")
        host.run(f"rm -f /tmp/{name}")


@pytest.mark.parametrize("kind", ["image", "network", "server", "volume", "subnet"])
def test_list_filters_reach_every_api(host, kind):
    """The query string reaches each API behind the front end: a name that matches nothing lists nothing."""
    assert json.loads(host.check_output(f"{OS} {kind} list --name ciab-no-such-{kind} -f json")) == []
