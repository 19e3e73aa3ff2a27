"""One structured access line per request, and a request id that follows it: echoed from
`X-Request-Id` when the client or proxy sent a sane one, generated otherwise. The line names
the route template (`/verify/<token>/<uidb64>`), never the path itself or the query string,
so no token or link reaches the log. The same hook records the request metrics (route, method,
status, latency), so the hot path measures its time once."""

from __future__ import annotations

import logging
import re
import time
import uuid

from quart import Quart, Response, g, request

from quart_template.metrics import UNMATCHED, observe_request

log = logging.getLogger("quart_template.access")

REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def register_access_log(app: Quart) -> None:
    @app.before_request
    async def _start() -> None:
        sent = request.headers.get("X-Request-Id", "")
        g.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        g.request_started = time.perf_counter()

    @app.after_request
    async def _line(response: Response) -> Response:
        request_id = g.get("request_id") or uuid.uuid4().hex
        response.headers["X-Request-Id"] = request_id
        started = g.get("request_started")
        seconds = time.perf_counter() - started if started is not None else 0.0
        rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
        observe_request(rule, request.method, response.status_code, seconds)
        log.info(
            "%s %s %s",
            request.method,
            rule,
            response.status_code,
            extra={
                "event": "request",
                "method": request.method,
                "route": rule,
                "status": response.status_code,
                "duration_ms": round(seconds * 1000, 2),
                "request_id": request_id,
            },
        )
        return response
