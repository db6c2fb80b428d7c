"""A small OpenAI-compatible chat-completions server on a real socket, for narrator tests.

The LLM is an outside service that cannot run here; this speaks its protocol
(``GET /v1/models``, ``POST /v1/chat/completions``) so the engine's client is exercised
over real HTTP. ``mode`` switches between answering, failing and stalling.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class FakeLlm:
    def __init__(self, answer: str = "The orders database is the root cause.") -> None:
        self.answer = answer
        self.mode = "ok"  # "ok", "error" (HTTP 500) or "slow" (answers after 3 s)
        self.requests: list[dict] = []
        self._closing = threading.Event()  # ends a "slow" stall early when the server closes
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _send(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                if self.path == "/v1/models":
                    self._send(200, {"object": "list", "data": [{"id": "fake-model", "object": "model"}]})
                else:
                    self._send(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:  # noqa: N802
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                fake.requests.append({"path": self.path, "body": body,
                                      "authorization": self.headers.get("Authorization")})
                if fake.mode == "slow":
                    fake._closing.wait(3)
                if fake.mode == "error":
                    self._send(500, {"error": {"message": "overloaded"}})
                    return
                self._send(200, {"id": "chatcmpl-1", "object": "chat.completion", "model": body.get("model"),
                                 "choices": [{"index": 0, "finish_reason": "stop",
                                              "message": {"role": "assistant", "content": fake.answer}}]})

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self._closing.set()
        self._server.shutdown()
        self._server.server_close()
