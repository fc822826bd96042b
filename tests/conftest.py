import pathlib
import sys

# Tests import collection code as ansible_collections.ciab.box.*: scripts/setup links the checkout there.
sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / ".collections"))
