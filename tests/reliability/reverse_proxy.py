"""A reverse proxy in front of a test server, doing to ``X-Forwarded-For`` what nginx's
``proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for`` does (and Caddy, Traefik and the
cloud load balancers): it appends the address the request came from to whatever the client sent.
Clients can connect from different loopback addresses (127.0.0.2, 127.0.0.3, ...) with
``session_from``, so one machine plays several people behind the proxy."""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer", "content-length"}


class ReverseProxy:
    def __init__(self, upstream_url: str):
        upstream = urlsplit(upstream_url)
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                headers = [(k, v) for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP | {"x-forwarded-for"}]
                sent = self.headers.get("X-Forwarded-For")
                headers.append(("X-Forwarded-For", f"{sent}, {self.client_address[0]}" if sent else self.client_address[0]))
                connection = http.client.HTTPConnection(upstream.hostname, upstream.port, timeout=60)
                connection.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for key, value in headers:
                    connection.putheader(key, value)
                if body is not None:
                    connection.putheader("Content-Length", str(len(body)))
                connection.endheaders(body)
                response = connection.getresponse()
                data = response.read()
                connection.close()
                proxy.forwarded.append(dict(headers)["X-Forwarded-For"])
                self.send_response_only(response.status, response.reason)
                for key, value in response.getheaders():
                    if key.lower() not in HOP_BY_HOP:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(data)
                self.close_connection = True

            do_GET = do_POST = do_HEAD = forward

        self.forwarded: list[str] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> "ReverseProxy":
        threading.Thread(target=self.server.serve_forever, daemon=True, name="reverse-proxy").start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _SourceAddressAdapter(HTTPAdapter):
    def __init__(self, source: str, **kwargs):
        self.source = source
        super().__init__(**kwargs)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.source, 0)
        super().init_poolmanager(*args, **kwargs)


def session_from(address: str) -> requests.Session:
    """A ``requests`` session whose connections leave from ``address`` (a loopback address)."""
    session = requests.Session()
    adapter = _SourceAddressAdapter(address)
    session.mount("http://", adapter)
    return session
