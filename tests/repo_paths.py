"""Where the test data lives: the recordings under tests/data and the demo files under demo/.

A plain module (not conftest.py) so tests in any folder can import it by name."""

from pathlib import Path

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data"
DEMO = ROOT / "demo"
