"""A local stand-in for MTurk in the browser tests: GET serves a page framing ``frame_url`` (as
MTurk shows an ExternalQuestion HIT); every POST (an assignment sent to externalSubmit) is
answered with a short page and recorded as (path, form fields)."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs


class StandInMTurk(ThreadingHTTPServer):
    def __init__(self, host: str = "127.0.0.1"):
        self.host = host
        self.frame_url = ""
        self.posts: list[tuple[str, dict]] = []
        self.received = threading.Event()
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, body: bytes):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                self._send(f"<!doctype html><title>HIT</title><iframe id='hit' src='{recorder.frame_url}' width='1000' height='700'></iframe>".encode())

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                recorder.posts.append((self.path, parse_qs(self.rfile.read(length).decode())))
                self._send(b"<!doctype html><title>MTurk sandbox</title><p id='mturk-received'>Assignment received</p>")
                recorder.received.set()

            def log_message(self, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.shutdown()
        self.server_close()
