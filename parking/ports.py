"""Listening sockets for the HTTP servers, bound before anything else starts.

A service binds its port first, so a port that is taken stops it with one clear line instead of
leaving it running half-started. The socket is bound the way uvicorn binds its own (SO_REUSEADDR),
so a port whose previous server just stopped (connections left in TIME_WAIT) counts as free and
only a port another program listens on counts as taken.
"""

from __future__ import annotations

import errno
import socket


class PortUnavailable(OSError):
    """The address cannot be listened on; the message names it and the reason."""


def listening_socket(host: str, port: int, *, what: str = "a server") -> socket.socket:
    """A socket listening on ``host:port`` (port 0: any free port), or PortUnavailable."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise PortUnavailable(f"cannot listen on {host}:{port} for {what}: unknown address ({exc})") from exc
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError as exc:
        sock.close()
        reason = "another program listens on it" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise PortUnavailable(f"cannot listen on {host}:{port} for {what}: {reason}") from exc
    return sock


def port_is_free(port: int, host: str = "127.0.0.1") -> bool:
    """Whether a server could listen on the port now (TIME_WAIT leftovers do not count as taken)."""
    try:
        listening_socket(host, port).close()
    except PortUnavailable:
        return False
    return True
