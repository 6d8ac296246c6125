"""Loopback ports: the preferred one when it is free, another free one when it is taken."""

from __future__ import annotations

import socket

from telecare.embedded.port import LOOPBACK, free_port


def test_the_preferred_port_when_free_else_another() -> None:
    port = free_port()
    assert free_port(preferred=port) == port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind((LOOPBACK, port))
        taken.listen()
        other = free_port(preferred=port)
    assert other != port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, other))  # free indeed
