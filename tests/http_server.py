"""A tiny HTTP server on 127.0.0.1 for download tests: serves bytes by path, honours Range requests, and can
drop a connection halfway or answer with an error status."""
from __future__ import annotations

import http.server
import threading
from dataclasses import dataclass, field


@dataclass
class Route:
    body: bytes = b""
    status: int = 200           # an error status to answer with instead of the body
    drop_after: int | None = None  # on the first full request, close the connection after this many bytes
    requests: list = field(default_factory=list)  # the Range header of each request ("" when none)


class _Handler(http.server.BaseHTTPRequestHandler):
    routes: dict[str, Route] = {}

    def log_message(self, *args):  # keep test output clean
        pass

    def do_GET(self):
        route = self.routes.get(self.path)
        if route is None:
            self.send_error(404)
            return
        range_header = self.headers.get("Range", "")
        route.requests.append(range_header)
        if route.status != 200:
            self.send_error(route.status)
            return
        start = int(range_header.split("=")[1].split("-")[0]) if range_header else 0
        if start >= len(route.body) and range_header:
            self.send_response(416)
            self.end_headers()
            return
        self.send_response(206 if range_header else 200)
        self.send_header("Content-Length", str(len(route.body) - start))
        self.end_headers()
        payload = route.body[start:]
        if route.drop_after is not None and not range_header:
            self.wfile.write(payload[:route.drop_after])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(2)  # the transfer dies halfway
            return
        self.wfile.write(payload)


class LocalServer:
    def __init__(self):
        handler = type("Handler", (_Handler,), {"routes": {}})
        self.routes = handler.routes
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}{path}"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()
