"""docs/api.md's endpoint table is generated from the app's OpenAPI document: regenerate it
here and fail when the committed one differs."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

from quart.typing import TestClientProtocol as Client

GENERATOR = Path(__file__).resolve().parents[2] / "docs" / "generate.py"


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_generate", GENERATOR)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def test_the_endpoint_table_in_docs_api_md_is_up_to_date(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    generate = _generator()
    expected = generate.endpoint_table(await response.get_json())
    committed = generate.generated_block(generate.GUIDE.read_text("utf-8"))
    assert committed == expected, (
        "docs/api.md's endpoint table is out of date with the app: run `make docs`"
    )
