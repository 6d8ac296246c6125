"""BlueZ object paths to addresses, as the pairing agent reads them."""

from __future__ import annotations

import pytest

from gateway.bluez import address_of


def test_a_device_path_names_its_address():
    assert address_of("/org/bluez/hci0/dev_c4_7c_8d_6a_11_01") == "C4:7C:8D:6A:11:01"


def test_anything_else_is_refused():
    with pytest.raises(ValueError, match="not a BlueZ device path"):
        address_of("/org/bluez/hci0")
