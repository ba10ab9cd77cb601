import os
import sys

# tests import their helpers (tests/helpers.py) and the control plane runner by plain module name
sys.path.insert(0, os.path.dirname(__file__))
