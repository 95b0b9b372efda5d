"""A tiny chat-completions server on 127.0.0.1 for the LLM annotator's tests.

``ChatServer(reply, statuses)`` listens on a random free port in a daemon
thread. ``POST /v1/chat/completions`` records the request (headers + JSON body)
and answers ``{"choices": [{"message": {"role": "assistant", "content": ...}}]}``
with ``reply(body)``; ``statuses`` is a list of HTTP status codes to return
first (e.g. ``[500, 500]``), after which it answers 200 (or always
``fail_status`` when given). It stops itself after ``lifetime`` seconds even if
the test forgets to, and ``stop()`` ends it at once. Used as a context manager.
"""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class ChatServer:
    def __init__(self, reply, statuses=(), fail_status=None, delay_first=0.0,
                 lifetime: float = 30.0):
        self.reply = reply
        self.statuses = list(statuses)
        self.fail_status = fail_status
        self.delay_first = delay_first
        self.requests: list[dict] = []
        self._lock = threading.Lock()
        self._stopped = False
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._timer = threading.Timer(lifetime, self.stop)
        self._timer.daemon = True

    def _next_status(self) -> int:
        with self._lock:
            if self.fail_status is not None:
                return self.fail_status
            return self.statuses.pop(0) if self.statuses else 200

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep pytest output clean
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"{}")
                with server._lock:
                    server.requests.append({"path": self.path, "headers": dict(self.headers),
                                            "body": body})
                    first = len(server.requests) == 1
                if first and server.delay_first:
                    time.sleep(server.delay_first)
                if self.path != "/v1/chat/completions":
                    return self._send(404, {"error": "not found"})
                status = server._next_status()
                if status != 200:
                    return self._send(status, {"error": {"message": f"status {status}"}})
                content = server.reply(body)
                self._send(200, {"choices": [{"index": 0, "message": {
                    "role": "assistant", "content": content}}]})

            def _send(self, status, obj):
                data = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # client timed out
                    pass

        return Handler

    def start(self) -> "ChatServer":
        self._thread.start()
        self._timer.start()
        return self

    def stop(self) -> None:
        with self._lock:
            if self._stopped:
                return
            self._stopped = True
        self._timer.cancel()
        if self._thread.is_alive():
            self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> "ChatServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
