"""The long version of #22's harness (`scripts/test interrupted`, not in the README test command): shares the sandbox
tests' helpers (tests/sandbox/box.py)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sandbox"))
