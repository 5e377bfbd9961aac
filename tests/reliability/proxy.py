"""A fault-injecting TCP proxy on a free loopback port (threads and sockets): put it in front of
a server, then ``cut()`` drops every connection and refuses new ones until ``restore()``."""

from __future__ import annotations

import socket
import threading

from tests.processes import free_port


class FaultProxy:
    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1"):
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.cut_off = threading.Event()
        self.accepted = 0
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._stopped = False

    def start(self) -> "FaultProxy":
        threading.Thread(target=self._accept, daemon=True, name=f"proxy-{self.port}").start()
        return self

    def _accept(self) -> None:
        while not self._stopped:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self.cut_off.is_set():
                # Refused: the client sees its connection closed before any byte arrives.
                client.close()
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            server.settimeout(None)
            with self._lock:
                self.accepted += 1
                self._open.update((client, server))
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            self._drop(source, sink)

    def _drop(self, *sockets: socket.socket) -> None:
        with self._lock:
            for sock in sockets:
                self._open.discard(sock)
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()

    def cut(self) -> None:
        """Close every connection through the proxy and refuse new ones."""
        self.cut_off.set()
        with self._lock:
            live = list(self._open)
        self._drop(*live)

    def restore(self) -> None:
        self.cut_off.clear()

    def stop(self) -> None:
        self._stopped = True
        self.cut()
        self._listener.close()
