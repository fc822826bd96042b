# Cloud-in-a-Box: Horizon's local settings, linked into the venv's openstack_dashboard/local/. The values are the
# deploy's, in /etc/horizon/settings.json (root:horizon 0640: it holds the secret key); this file only reads them.
import json

with open("/etc/horizon/settings.json", encoding="utf-8") as _settings:
    globals().update(json.load(_settings))
