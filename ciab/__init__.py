"""Cloud-in-a-Box: the CLI and the Python API over the ciab.box Ansible collection."""

__version__ = "0.1.0"
