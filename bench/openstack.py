"""Footprint of the OpenStack layer on a running node: RAM per service, venv sizes. Prints figures.

    sudo .venv/bin/python bench/openstack.py [--container NAME]   # a docker container (default ciab-sandbox)
    sudo .venv/bin/python bench/openstack.py --local              # this machine is the node

Issue 5 asks for these figures in its closing note; nothing here asserts them.
"""

import argparse
import subprocess
from collections import defaultdict

# The system user each service runs as (uwsgi APIs run as the service's own user).
USERS = {
    "keystone": "keystone",
    "glance": "glance",
    "placement": "placement",
    "cinder": "cinder",
    "mysql": "mariadb",
    "rabbitmq": "rabbitmq",
    "memcache": "memcached",
    "www-data": "nginx workers",
}
VENVS = "/opt/ciab/openstack/2026.2"


def node(args, command):
    prefix = [] if args.local else ["docker", "exec", args.container]
    return subprocess.run([*prefix, "sh", "-c", command], capture_output=True, text=True, check=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--container", default="ciab-sandbox")
    parser.add_argument("--local", action="store_true")
    args = parser.parse_args()

    rss = defaultdict(int)
    procs = defaultdict(int)
    for line in node(args, "ps -eo user:32=,rss=").splitlines():
        user, kib = line.split()
        if user in USERS:
            rss[user] += int(kib)
            procs[user] += 1
    print(f"{'service':<16} {'processes':>9} {'RSS MiB':>8}")
    for user, label in USERS.items():
        print(f"{label:<16} {procs[user]:>9} {rss[user] / 1024:>8.0f}")
    print(f"{'total':<16} {sum(procs.values()):>9} {sum(rss.values()) / 1024:>8.0f}")
    print()
    print(f"{'venv':<16} {'size':>8}")
    for line in node(args, f"du -sm {VENVS}/*/ 2>/dev/null").splitlines():
        mib, path = line.split()
        print(f"{path.rstrip('/').rsplit('/', 1)[1]:<16} {mib:>5} MiB")


if __name__ == "__main__":
    main()
