"""Port checks: a port left in TIME_WAIT by a stopped server is free; one another program holds is not."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from parking.ports import PortUnavailable, listening_socket, port_is_free
from parklotse.demo import choose_api_port
from tests.helpers import wait_for

TIME_WAIT = "06"  # state code in /proc/net/tcp


def local_states(port: int) -> set[str]:
    """TCP states of the sockets whose local port is ``port`` (IPv4, from /proc/net/tcp)."""
    states = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port:
            states.add(fields[3])
    return states


@pytest.fixture
def port_in_time_wait() -> int:
    """A port whose server closed a connection first and then stopped, as a stopped demo leaves it."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = int(server.getsockname()[1])
        client = socket.create_connection(("127.0.0.1", port))
        accepted, _ = server.accept()
        accepted.close()  # the server side closes first: its end goes to TIME_WAIT
        client.recv(1)
        client.close()
    wait_for(lambda: local_states(port) == {TIME_WAIT}, 5, f"port {port} in TIME_WAIT only")
    return port


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        yield int(other.getsockname()[1])


def test_a_port_left_in_time_wait_by_a_stopped_server_is_free(port_in_time_wait: int) -> None:
    # The check before the fix: a plain bind is refused while the TIME_WAIT socket lingers.
    with (
        socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain,
        pytest.raises(OSError, match="Address already in use"),
    ):
        plain.bind(("127.0.0.1", port_in_time_wait))
    assert port_is_free(port_in_time_wait)


def test_a_server_can_listen_again_on_a_port_in_time_wait(port_in_time_wait: int) -> None:
    with listening_socket("127.0.0.1", port_in_time_wait) as sock:
        assert sock.getsockname()[1] == port_in_time_wait


def test_a_port_another_program_listens_on_is_taken(taken_port: int) -> None:
    assert not port_is_free(taken_port)


def test_listening_on_a_taken_port_names_the_address_and_the_setting(taken_port: int) -> None:
    with pytest.raises(PortUnavailable) as raised:
        listening_socket("127.0.0.1", taken_port, what="the API (--port, PARKLOTSE_API_PORT)")
    assert str(raised.value) == (
        f"cannot listen on 127.0.0.1:{taken_port} for the API (--port, PARKLOTSE_API_PORT): "
        "another program listens on it"
    )


def test_the_demo_keeps_its_port_when_it_is_free(port_in_time_wait: int) -> None:
    assert choose_api_port(port_in_time_wait) == (port_in_time_wait, None)


def test_the_demo_says_which_port_it_uses_instead_and_why(taken_port: int) -> None:
    port, line = choose_api_port(taken_port)
    assert port != taken_port and port_is_free(port)
    assert line is not None
    assert f"port {taken_port} is in use by another program" in line and f"on port {port} instead" in line
