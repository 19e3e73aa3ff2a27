"""Regenerate the endpoint table in docs/api.md from the app's own OpenAPI document.

Run `make docs` (or `.venv/bin/python docs/generate.py`). The table sits between the BEGIN and
END markers; everything else in the guide is written by hand. tests/foundation/test_docs.py
fails when the table no longer matches the app.
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
from pathlib import Path
from typing import Any

GUIDE = Path(__file__).resolve().parent / "api.md"
BEGIN = "<!-- BEGIN GENERATED ENDPOINTS -->"
END = "<!-- END GENERATED ENDPOINTS -->"
METHODS = ("get", "post", "put", "patch", "delete")
NOTHING = "\N{EN DASH}"
JSON = "application/json"
HEADER = (
    "| method | path | auth | summary | success | errors | request fields |\n"
    "|---|---|---|---|---|---|---|"
)


def endpoint_table(spec: dict[str, Any]) -> str:
    """One Markdown row per documented route, by path then method."""
    rows = [HEADER]
    for path in sorted(spec["paths"]):
        operations = spec["paths"][path]
        for method in (m for m in METHODS if m in operations):
            operation = operations[method]
            cells = (
                method.upper(),
                f"`{path}`",
                _auth(operation),
                _summary(operation),
                _success(operation),
                _errors(operation),
                _fields(operation),
            )
            rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _auth(operation: dict[str, Any]) -> str:
    security = operation.get("security") or []
    if not security:
        return "none"
    return "optional" if {} in security else "required"


def _summary(operation: dict[str, Any]) -> str:
    """The docstring's first paragraph (quart-schema splits it after the first line)."""
    text = f"{operation.get('summary', '')}\n{operation.get('description', '')}"
    paragraph = text.strip().split("\n\n")[0]
    return " ".join(paragraph.split()).replace("|", "\\|")


def _success(operation: dict[str, Any]) -> str:
    codes = sorted(code for code in operation.get("responses", {}) if code.startswith("2"))
    return ", ".join(codes) or NOTHING


def _errors(operation: dict[str, Any]) -> str:
    """Every error status the operation documents (all with the one error shape)."""
    codes = sorted(code for code in operation.get("responses", {}) if code[0] in "45")
    return ", ".join(codes) or NOTHING


def _fields(operation: dict[str, Any]) -> str:
    """Required fields first, then the optional ones (per alternative, for a body that takes
    one of several shapes); the media types when not JSON only; a query's parameters."""
    content = operation.get("requestBody", {}).get("content", {})
    if not content:
        query = [p for p in operation.get("parameters", []) if p.get("in") == "query"]
        if not query:
            return NOTHING
        return "query: " + _field_list(
            [p["name"] for p in query], {p["name"] for p in query if p.get("required")}, set()
        )
    media_type = JSON if JSON in content else next(iter(content))
    media = content[media_type]
    schema = media.get("schema", {})
    names = list(schema.get("properties", {}))
    alternatives = [_alternative(part) for part in schema.get("oneOf", [])]
    if alternatives:
        # Exactly one alternative matches: what another one needs is no option in this one.
        needed = [required for required, _ in alternatives]
        text = " — or ".join(
            _field_list(names, required, absent | set().union(*needed) - required)
            for required, absent in alternatives
        )
    else:
        text = _field_list(names, set(schema.get("required", [])), set())
    if list(content) == [JSON]:
        return text
    return f"{text} ({' or '.join(sorted(content, key=lambda name: name == JSON))})"


def _field_list(names: list[str], required: set[str], absent: set[str]) -> str:
    text = ", ".join(f"`{name}`" for name in names if name in required)
    optional = [f"`{name}`" for name in names if name not in required | absent]
    if optional:
        text += ("; optional " if text else "optional ") + ", ".join(optional)
    return text


def _alternative(part: dict[str, Any]) -> tuple[set[str], set[str]]:
    """One `oneOf` alternative of a body: the fields it needs, and those it must not send
    (a field whose schema there is only `null`)."""
    required: set[str] = set()
    absent: set[str] = set()
    for piece in [part, *part.get("allOf", [])]:
        required |= set(piece.get("required", []))
        for name, rule in piece.get("properties", {}).items():
            if rule == {"type": "null"}:
                absent.add(name)
    return required, absent


def generated_block(guide: str) -> str:
    """What stands between the markers now."""
    start, end = guide.index(BEGIN) + len(BEGIN), guide.index(END)
    return guide[start:end].strip()


def with_table(guide: str, table: str) -> str:
    start, end = guide.index(BEGIN) + len(BEGIN), guide.index(END)
    return f"{guide[:start]}\n{table}\n{guide[end:]}"


async def fetch_spec() -> dict[str, Any]:
    """`/openapi.json` of an app on a throw-away SQLite file, with no outside service."""
    from quart_template.app import create_app
    from quart_template.settings import Settings

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(
            _env_file=None,
            app_env="test",
            secret_key=secrets.token_urlsafe(32),
            security_password_salt=secrets.token_urlsafe(32),
            log_level="WARNING",
            database_url_=f"sqlite+aiosqlite:///{tmp}/docs.db",
            amqp_url_=None,
            broker_path=None,
            redis_url=None,
            email_backend="console",
            pusher_app_id=None,
            rollbar_access_token=None,
            docs_enabled=True,
        )
        app = create_app(settings)
        async with app.test_app() as test_app:
            response = await test_app.test_client().get("/openapi.json")
            spec: dict[str, Any] = await response.get_json()
    return spec


def main() -> None:
    guide = GUIDE.read_text("utf-8")
    table = endpoint_table(asyncio.run(fetch_spec()))
    GUIDE.write_text(with_table(guide, table), "utf-8")
    print(f"{GUIDE.name}: {table.count(chr(10)) - 1} endpoints")


if __name__ == "__main__":
    main()
