"""The public surface of ``devices``."""

from __future__ import annotations

import subprocess
import sys

import devices


def test_all_public_names_are_exported():
    public = {name for name in vars(devices) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(devices, name)).__name__ == "module"}
    assert set(devices.__all__) == public - modules


def test_importing_devices_pulls_in_no_third_party_package():
    code = (
        "import sys, devices, devices.simulator\n"
        "banned = {'bleak', 'paho', 'psycopg', 'fastapi', 'numpy', 'pydantic'}\n"
        "print(sorted(banned & {m.split('.')[0] for m in sys.modules}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
