"""AMQP_URL listing several brokers: every entry is checked at start-up (one line naming the
variable and the entry, never its password), and the backends line hides every password."""

from __future__ import annotations

import asyncio

import pytest

from quart_template.brokers import BrokerConnection, broker_urls, redacted_brokers
from quart_template.cli import describe_backends
from quart_template.settings import Settings
from tests.support.backends import settings_for, start_up_refusal

TWO = "amqp://u:mq-secret@rabbit1:5672/vh, amqps://u:mq-secret@rabbit2:5671/vh"


def test_brokers_are_read_in_order() -> None:
    assert broker_urls(TWO) == [
        "amqp://u:mq-secret@rabbit1:5672/vh",
        "amqps://u:mq-secret@rabbit2:5671/vh",
    ]
    assert broker_urls("amqp://guest:guest@127.0.0.1:5672/") == [
        "amqp://guest:guest@127.0.0.1:5672/"
    ]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("amqp://u:mq-secret@rabbit1:5672/vh,rabbit2:5672", "broker 2: use amqp:// or amqps://"),
        ("amqp://u:mq-secret@rabbit1:5672/vh,", "broker 2: use amqp://"),
        ("amqp://u:mq-secret@rabbit1:port/vh", "broker 1 (rabbit1:port): the port is not a number"),
        ("http://u:mq-secret@rabbit1:5672/vh", "broker 1 (rabbit1:5672): use amqp://"),
        ("amqp://u:mq-secret@/vh", "broker 1: no host"),
    ],
)
def test_start_up_refuses_an_entry_that_is_no_broker_url(value: str, problem: str) -> None:
    refused = start_up_refusal(settings_for("sqlite+aiosqlite:///x.db", amqp_url_=value))
    assert (refused.variable, "secret" in str(refused)) == ("AMQP_URL", False)
    assert refused.problem.startswith(problem)


def test_the_backends_line_hides_every_password() -> None:
    settings = Settings.model_construct(database_url_="sqlite+aiosqlite:///x.db", amqp_url_=TWO)
    line = describe_backends(settings)
    assert "secret" not in line
    assert "broker amqp://u:***@rabbit1:5672/vh,amqps://u:***@rabbit2:5671/vh" in line
    assert redacted_brokers("amqp://rabbit1/vh") == "amqp://rabbit1/vh"


async def test_a_cancelled_connect_leaves_nothing_reconnecting() -> None:
    """A relay pass or request cancelled while the broker is still answering (a slow or hung
    broker) must not leave aio-pika's reconnect loop behind: that loop keeps dialling forever,
    and it swallows the cancel a shutdown sends it while a dial is in progress."""
    dialled: asyncio.Queue[asyncio.StreamReader] = asyncio.Queue()
    writers: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)  # accepts, never speaks AMQP
        await dialled.put(reader)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    brokers = BrokerConnection([f"amqp://guest:guest@127.0.0.1:{port}/"], timeout=30)
    try:
        opening = asyncio.create_task(brokers.open())
        first = await asyncio.wait_for(dialled.get(), 5)
        opening.cancel()
        with pytest.raises(asyncio.CancelledError):
            await opening
        await asyncio.wait_for(first.read(), 5)  # the protocol header, then the hang-up
        assert first.at_eof()
        assert not [t for t in asyncio.all_tasks() if "connection_factory" in repr(t)]
        assert dialled.empty()
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()
