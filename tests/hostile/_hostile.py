"""The hostile tests' helpers: tests/support/eskit_support.py (fingerprint with table names)."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "support"))
from eskit_support import *  # noqa: E402,F401,F403
from eskit_support import fingerprint_tables as fingerprint  # noqa: E402,F401
