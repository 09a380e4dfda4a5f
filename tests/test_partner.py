"""A helpline's own system: signed webhooks out (in order, retried, once), the signed reply API in,
both checked against console/openapi.yml; and a child on SMS answered through it, end to end.

Everything runs for real: Redis, HTTP on loopback ports, the console as its own process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import logging
import secrets
import time
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from typing import Any, AsyncIterator, Iterator, Optional

import httpx
import pytest
import redis.asyncio as aioredis
import yaml
from jsonschema import Draft202012Validator, FormatChecker, RefResolver, ValidationError

from bot import PROJECT_ROOT
from bot.conversation.dialogue import Dialogue
from bot.handoff.audit import AuditLog
from bot.handoff.desks import Desk, Desks, Webhook
from bot.handoff.partner import (
    TOLERANCE_S,
    Backoff,
    MemoryPartnerStore,
    PartnerDelivery,
    RedisPartnerStore,
    deliver_to_partners,
    payload,
    sign,
    signed_request,
    verify,
)
from bot.handoff.queue import Event, MemoryHandoffQueue, RedisHandoffQueue, Risk, Ticket
from bot.privacy.sender_ids import SenderIds
from scripts.fake_apis import FakePartner
from scripts.local_bot import free_port, http, running_console
from tests.conftest import CHANNEL_ENV, redis_keys_removed
from tests.test_channels import post_twilio, sms

REDIS_URL = CHANNEL_ENV["REDIS_URL"]
SECRET = b"s" * 40
OPENAPI = yaml.safe_load((PROJECT_ROOT / "console" / "openapi.yml").read_text(encoding="utf-8"))
FORMATS = FormatChecker()
FORMATS.checks("date-time", raises=ValueError)(
    lambda value: not isinstance(value, str) or bool(dt.datetime.fromisoformat(value).tzinfo)
)


def conforms(schema: dict[str, Any], instance: Any) -> None:
    """Raises unless ``instance`` matches ``schema``, whose $refs point into console/openapi.yml."""
    Draft202012Validator(schema, resolver=RefResolver.from_schema(OPENAPI), format_checker=FORMATS).validate(instance)


def _followed(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        *_, kind, name = node["$ref"].split("/")
        node = OPENAPI["components"][kind][name]
    return node


def conforms_to_response(method: str, path: str, status: int, body: Any) -> None:
    """``body`` is what console/openapi.yml says ``method path`` answers with ``status``."""
    answer = _followed(OPENAPI["paths"][path][method.lower()]["responses"][str(status)])
    conforms(answer["content"]["application/json"]["schema"], body)


WEBHOOK_SCHEMA = OPENAPI["webhooks"]["ticketEvent"]["post"]["requestBody"]["content"]["application/json"]["schema"]


def new_ticket(helpline: str = "GH", conversation: Optional[str] = None) -> Ticket:
    return Ticket.new(
        helpline,
        conversation or f"sms-{uuid.uuid4().hex}",
        "sms",
        helpline,
        "en",
        Risk.ASKED,
        "talk_to_human",
        last_messages=("hello", "i need to talk to someone"),
    )


# -- signatures ---------------------------------------------------------------------------------


def test_a_signature_holds_only_for_its_body_its_secret_and_its_time():
    now = 1_800_000_000
    header = sign(SECRET, now, b'{"a": 1}')
    assert header.startswith(f"t={now},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(SECRET, header, b'{"a": 1}', now)
    assert verify(SECRET, header, b'{"a": 1}', now + 300) and verify(SECRET, header, b'{"a": 1}', now - 300)
    assert not verify(SECRET, header, b'{"a": 2}', now)  # tampered body
    assert not verify(b"t" * 40, header, b'{"a": 1}', now)  # another secret
    assert not verify(SECRET, header, b'{"a": 1}', now + 301)  # stale
    assert not verify(SECRET, header, b'{"a": 1}', now - 301)  # from the future
    assert not verify(SECRET, header.replace(f"t={now}", f"t={now + 1}"), b'{"a": 1}', now)  # time changed
    for broken in (
        "",
        None,
        "v1=" + "0" * 64,
        f"t={now}",
        f"t=abc,v1={'0' * 64}",
        header + ",v1=00",
        f"t=１,v1={'0' * 64}",
    ):
        assert not verify(SECRET, broken, b'{"a": 1}', now)
    # A request's signature covers its method and path: it opens no other door.
    assert not verify(
        SECRET,
        sign(SECRET, now, signed_request("GET", "/partner/v1/tickets/a", b"")),
        signed_request("POST", "/partner/v1/tickets/a/claim", b""),
        now,
    )


def test_the_webhook_payload_is_the_whole_ticket_and_never_the_childs_address():
    ticket = new_ticket(conversation="sms-0123456789abcdef")
    for event, message in (
        (Event("1-0", "opened", ticket.id), None),
        (Event("2-0", "changed", ticket.id), None),
        (Event("3-0", "message", ticket.id, "1-0"), ("child", "are you there?")),
    ):
        body = payload(event, ticket, message)
        conforms(WEBHOOK_SCHEMA, body)
        assert body["ticket"]["id"] == ticket.id and "sms-0123456789abcdef" not in json.dumps(body)
    assert payload(Event("3-0", "message", ticket.id, "1-0"), ticket, ("child", "hi"))["message"] == {
        "author": "child",
        "text": "hi",
    }
    with pytest.raises(ValidationError):  # a message event must carry its message, and only it
        conforms(WEBHOOK_SCHEMA, payload(Event("3-0", "message", ticket.id, "1-0"), ticket))


# -- delivery -----------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[FakePartner]:
    api = FakePartner()
    yield api
    api.close()


@pytest.fixture
def prefix() -> Iterator[str]:
    name = f"test-partner:{uuid.uuid4().hex}:"
    yield name
    redis_keys_removed(name)


def desks_for(receiver: FakePartner) -> Desks:
    """GH hands its tickets to its own system; KE uses the console only."""
    return Desks(
        {"GH": Desk("GH", "GH desk", 10, webhook=Webhook(receiver.url, SECRET)), "KE": Desk("KE", "KE desk", 10)}
    )


@asynccontextmanager
async def delivering(queue: Any, desks: Desks, store: Any, **options: Any) -> AsyncIterator[PartnerDelivery]:
    async with httpx.AsyncClient(timeout=2) as client:
        delivery = PartnerDelivery(queue, desks, store, client, **{"poll_ms": 200, **options})
        task = asyncio.ensure_future(delivery.run_forever())
        try:
            yield delivery
        finally:
            while not task.done():  # redis-py 4.6 may swallow a cancellation (its async_timeout(0) when
                task.cancel()  # taking a pooled connection), so ask again until the delivery stops
                await asyncio.wait([task], timeout=1)


@asynccontextmanager
async def on_redis(prefix: str) -> AsyncIterator[tuple[RedisHandoffQueue, RedisPartnerStore]]:
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield RedisHandoffQueue(client, prefix + "handoff:"), RedisPartnerStore(client, prefix + "partner:")
    finally:
        await client.close()


async def accepted(receiver: FakePartner, count: int) -> list[dict[str, Any]]:
    """The deliveries taken so far, once there are ``count`` (waiting off the event loop, which delivers)."""
    return await asyncio.to_thread(receiver.accepted, count, 15)


async def recorded(store: Any, body: dict[str, Any]) -> None:
    """Wait until the delivery has recorded ``body``'s event as delivered (it may stop right after
    the receiver took it and before that: then the event goes out again, which is harmless)."""
    while await store.cursor(body["ticket"]["helpline"]) != body["event"]:
        await asyncio.sleep(0.02)


def said(bodies: list[dict[str, Any]]) -> list[str]:
    """The messages among the deliveries, in the order delivered."""
    return [body["message"]["text"] for body in bodies if "message" in body]


def bodies_of(receiver: FakePartner) -> list[dict[str, Any]]:
    return [json.loads(received.body) for received in receiver.received]


async def test_each_event_goes_out_once_in_order_signed_with_the_whole_ticket(receiver, prefix):
    async with on_redis(prefix) as (queue, store), delivering(queue, desks_for(receiver), store):
        ticket = await queue.open(new_ticket())
        await queue.open(new_ticket("KE"))  # a desk without a webhook: its events go nowhere
        await queue.append(ticket, "child", "are you there?")
        await queue.claim(ticket.id, "partner:GH")
        await queue.reply(ticket.id, "partner:GH", "yes, I'm here")
        await queue.close(ticket.id, "counselling given")
        bodies = await accepted(receiver, 5)
        assert [body["type"] for body in bodies] == [
            "ticket.opened",
            "ticket.message",
            "ticket.updated",
            "ticket.message",
            "ticket.updated",
        ]
        assert said(bodies) == ["are you there?", "yes, I'm here"] and bodies[-1]["ticket"]["state"] == "closed"
        await asyncio.sleep(0.5)
        assert len(receiver.received) == 5  # nothing more: not the KE ticket, no repeat
        assert await store.cursor("GH") == bodies[-1]["event"]
    for received in receiver.received:
        body = json.loads(received.body)
        conforms(WEBHOOK_SCHEMA, body)
        assert verify(SECRET, received.headers["x-helpline-signature"], received.body, time.time())
        assert received.headers["idempotency-key"] == body["event"] and received.headers["x-helpline-desk"] == "GH"
        assert body["ticket"]["helpline"] == "GH" and "conversation" not in body["ticket"]
    assert [json.loads(r.body)["message"]["author"] for r in receiver.received if b'"message"' in r.body] == [
        "child",
        "partner:GH",
    ]


async def test_a_refused_delivery_is_retried_with_growing_waits_and_the_next_event_waits_behind_it(receiver, prefix):
    receiver.refuse_next(500, 400, 429, 503)  # 4xx too: a misconfigured receiver must not lose a child's message
    async with (
        on_redis(prefix) as (queue, store),
        delivering(queue, desks_for(receiver), store, backoff=Backoff(0.1, 5)),
    ):
        ticket = await queue.open(new_ticket())
        await queue.append(ticket, "child", "hello?")
        await accepted(receiver, 2)
    attempts = [(json.loads(r.body)["type"], r.status, r.at) for r in receiver.received]
    assert [(kind, status) for kind, status, _ in attempts] == [
        ("ticket.opened", 500),
        ("ticket.opened", 400),
        ("ticket.opened", 429),
        ("ticket.opened", 503),
        ("ticket.opened", 204),
        ("ticket.message", 204),
    ]
    waits = [later - earlier for (_, _, earlier), (_, _, later) in zip(attempts[:4], attempts[1:5], strict=True)]
    # 0.1, 0.2, 0.4, 0.8 s, less up to a quarter
    assert 0.07 <= waits[0] and all(b > a for a, b in itertools.pairwise(waits)), waits
    assert waits[-1] < 2


async def test_failures_are_logged_without_the_childs_words(prefix, caplog):
    dead = f"http://127.0.0.1:{free_port()}/tickets"  # nothing listens there
    desks = Desks({"GH": Desk("GH", "GH desk", 10, webhook=Webhook(dead, SECRET))})
    with caplog.at_level(logging.WARNING, logger="bot.handoff.partner"):
        async with on_redis(prefix) as (queue, store), delivering(queue, desks, store, backoff=Backoff(0.05, 0.2)):
            ticket = await queue.open(new_ticket())
            await queue.append(ticket, "child", "my very private words")
            await asyncio.sleep(1)
            assert await store.cursor("GH") == "0"  # nothing delivered, nothing skipped
    assert "ConnectError" in caplog.text and "attempt 3" in caplog.text
    assert "private" not in caplog.text and "i need to talk" not in caplog.text


async def test_a_restarted_delivery_resumes_after_the_last_event_delivered(receiver, prefix):
    async with on_redis(prefix) as (queue, store):
        ticket = await queue.open(new_ticket())
        await queue.append(ticket, "child", "one")
        async with delivering(queue, desks_for(receiver), store):
            await recorded(store, (await accepted(receiver, 2))[-1])
        await queue.append(ticket, "child", "two")  # while no server delivers
        await queue.append(ticket, "child", "three")
    async with on_redis(prefix) as (queue, store), delivering(queue, desks_for(receiver), store):  # a new process
        await accepted(receiver, 4)
        await asyncio.sleep(0.5)
    bodies = bodies_of(receiver)
    assert said(bodies) == ["one", "two", "three"] and len({body["event"] for body in bodies}) == len(bodies) == 4


async def test_two_servers_delivering_at_once_send_each_event_once_and_one_takes_over_from_the_other(receiver, prefix):
    async with (
        on_redis(prefix) as (queue, store),
        on_redis(prefix) as (other_queue, other_store),
        AsyncExitStack() as second,
    ):
        ticket = await queue.open(new_ticket())
        async with delivering(queue, desks_for(receiver), store, lock_ms=600):
            await accepted(receiver, 1)  # this server holds the desk now
            await second.enter_async_context(delivering(other_queue, desks_for(receiver), other_store, lock_ms=600))
            for number in range(5):
                await queue.append(ticket, "child", f"message {number}")
            await recorded(store, (await accepted(receiver, 6))[-1])
        for number in range(5, 8):  # the first server stopped: the second takes over
            await queue.append(ticket, "child", f"message {number}")
        await accepted(receiver, 9)
        await asyncio.sleep(0.5)
    bodies = bodies_of(receiver)
    assert (
        said(bodies) == [f"message {n}" for n in range(8)]
        and len({body["event"] for body in bodies}) == len(bodies) == 9
    )


async def test_a_stalled_server_loses_the_desk_to_another_and_cannot_move_its_cursor(prefix):
    async with on_redis(prefix) as (_, store):
        assert await store.hold("GH", "server-a", 300)
        assert not await store.hold("GH", "server-b", 300)
        assert await store.advance("GH", "server-a", "5-0") and await store.cursor("GH") == "5-0"
        await asyncio.sleep(0.4)  # server-a stalls past its lock
        assert await store.hold("GH", "server-b", 300) and await store.advance("GH", "server-b", "6-0")
        assert not await store.advance("GH", "server-a", "5-1") and await store.cursor("GH") == "6-0"
        await store.release("GH", "server-a")  # not its lock any more: nothing happens
        assert not await store.hold("GH", "server-a", 300)


async def test_the_in_memory_quick_start_delivers_too(receiver):
    queue, store = MemoryHandoffQueue(), MemoryPartnerStore()
    ticket = await queue.open(new_ticket())
    async with delivering(queue, desks_for(receiver), store):
        await queue.append(ticket, "child", "hello")
        await recorded(store, (await accepted(receiver, 2))[-1])
    await queue.append(ticket, "child", "again")
    async with delivering(queue, desks_for(receiver), store):
        await accepted(receiver, 3)
    assert (
        await asyncio.wait_for(deliver_to_partners(queue, Desks({"KE": Desk("KE", "KE desk", 10)}), None, "test:"), 1)
        is None
    )
    assert said(bodies_of(receiver)) == ["hello", "again"]


# -- the reply API ------------------------------------------------------------------------------


API_PREFIX = f"test-partner-api-{secrets.token_hex(4)}:"
GH_SECRET = CHANNEL_ENV["HELPLINE_TEST_GH_SECRET"].encode()


@pytest.fixture(scope="module")
def partner_console(tmp_path_factory, handoff_file) -> Iterator[str]:
    """The console with the session's desks (NG: console only; GH: its own system), on its own keys."""
    env = {
        "REDIS_URL": REDIS_URL,
        "HELPLINE_REDIS_PREFIX": API_PREFIX,
        "HELPLINE_HANDOFF_FILE": str(handoff_file),
        "HELPLINE_TEST_GH_SECRET": CHANNEL_ENV["HELPLINE_TEST_GH_SECRET"],
    }
    try:
        with running_console(tmp_path_factory.mktemp("partner-console"), env) as base:
            yield base
    finally:
        redis_keys_removed(API_PREFIX)


def call(
    base: str,
    method: str,
    path: str,
    body: Optional[bytes] = None,
    desk: str = "GH",
    secret: bytes = GH_SECRET,
    at: Optional[int] = None,
    signature: Optional[str] = None,
) -> tuple[int, Any]:
    """A request as a helpline's system makes it: signed over method, path and body, now."""
    raw = body if body is not None else (b"" if method == "GET" else b"{}")
    header = sign(secret, at or int(time.time()), signed_request(method, path, raw)) if signature is None else signature
    status, answer = http(
        method,
        base + path,
        raw or None,
        {"Content-Type": "application/json", "X-Helpline-Desk": desk, "X-Helpline-Signature": header},
    )
    return status, json.loads(answer)


def checked(
    base: str, method: str, ticket_id: str, action: str = "", data: Optional[dict] = None, **options: Any
) -> tuple[int, Any]:
    """``call`` on a ticket (and action), with the answer checked against the file's schema for it."""
    template = "/partner/v1/tickets/{ticket_id}" + (f"/{action}" if action else "")
    status, body = call(
        base,
        method,
        template.format(ticket_id=ticket_id),
        None if data is None else json.dumps(data).encode(),
        **options,
    )
    conforms_to_response(method, template, status, body)
    return status, body


@pytest.fixture
async def api_queue() -> AsyncIterator[RedisHandoffQueue]:
    """The handoff queue the partner console works on, through a client of the test's event loop.
    (The console is its own process: the test's blocking HTTP calls to it hold up nothing on this loop.)"""
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        yield RedisHandoffQueue(client, API_PREFIX + "handoff:")
    finally:
        await client.close()


async def test_the_partner_reads_claims_writes_to_the_child_and_closes(partner_console, api_queue):
    ticket = await api_queue.open(new_ticket())
    await api_queue.append(ticket, "child", "is anyone there?")
    base = partner_console
    status, read = checked(base, "GET", ticket.id)
    assert (
        status == 200
        and read["ticket"]["state"] == "waiting"
        and read["messages"] == [{"author": "child", "text": "is anyone there?"}]
    )
    status, claimed = checked(base, "POST", ticket.id, "claim")
    assert status == 200 and claimed["ticket"]["state"] == "claimed" and claimed["ticket"]["counsellor"] == "partner:GH"
    assert checked(base, "POST", ticket.id, "claim", at=int(time.time()) + 1)[0] == 409  # signed afresh: not a replay
    assert checked(base, "POST", ticket.id, "messages", {"text": "Hello, I'm Kofi from the helpline."})[0] == 200

    async def sent():
        return await api_queue.outbox.read("test", block_ms=1000), await api_queue.messages(ticket.id)

    outgoing, said = await sent()
    assert [(o.conversation, o.channel) for o in outgoing] == [(ticket.conversation, "sms")]
    assert said[-1] == ("partner:GH", "Hello, I'm Kofi from the helpline.")
    assert checked(base, "POST", ticket.id, "close", {"outcome": "counselling given"})[0] == 400  # not a category code
    status, closed = checked(base, "POST", ticket.id, "close", {"outcome": "counselling_given"})
    assert (
        status == 200 and closed["ticket"]["state"] == "closed" and closed["ticket"]["outcome"] == "counselling_given"
    )
    told, said = await sent()
    ended = Dialogue.load().texts.get("handoff_ended", ticket.language)
    assert len(told) == 1 and said[-1] == ("bot", ended)  # the child knows
    assert checked(base, "POST", ticket.id, "messages", {"text": "too late"})[0] == 409
    client = aioredis.from_url(REDIS_URL, decode_responses=True)
    try:
        logged = await AuditLog(client, API_PREFIX + "console:", keep_days=1).read("GH")
    finally:
        await client.close()
    assert [(e.who, e.role, e.what, e.outcome) for e in logged if e.ticket == ticket.id] == [
        ("partner:GH", "partner", "close", "counselling_given"),  # the desk's audit log, as a console's would be
        ("partner:GH", "partner", "claim", ""),
    ]


async def test_requests_without_a_good_fresh_unused_signature_are_refused(partner_console, api_queue):
    ticket = await api_queue.open(new_ticket())
    base, path = partner_console, f"/partner/v1/tickets/{ticket.id}"
    now = int(time.time())
    refused = [
        call(base, "GET", path, signature=""),
        call(base, "GET", path, secret=b"w" * 64),  # wrong secret
        # stale, and from the future: just past the tolerance, read when sent (the calls before may take seconds)
        call(base, "GET", path, at=int(time.time()) - TOLERANCE_S - 2),
        call(base, "GET", path, at=int(time.time()) + TOLERANCE_S + 2),
        call(base, "GET", path, desk="NG"),  # a desk without its own system has no secret
        call(base, "GET", path, desk="ZZ"),
        call(
            base,
            "POST",
            path + "/close",
            b'{"outcome": "x"}',
            signature=sign(GH_SECRET, now, signed_request("POST", path + "/close", b'{"outcome": "y"}')),
        ),
        call(
            base,
            "POST",
            path + "/close",
            b"{}",
            signature=sign(GH_SECRET, now, signed_request("POST", path + "/claim", b"{}")),
        ),
    ]
    for status, body in refused:
        assert status == 401
        conforms_to_response("GET", "/partner/v1/tickets/{ticket_id}", 401, body)
    # A change's signature is taken once; a read's may be used again while fresh.
    claim = sign(GH_SECRET, now, signed_request("POST", path + "/claim", b"{}"))
    assert call(base, "POST", path + "/claim", signature=claim)[0] == 200
    assert call(base, "POST", path + "/claim", signature=claim) == (
        401,
        {"error": "this signature was used already: sign each change afresh"},
    )
    read = sign(GH_SECRET, now, signed_request("GET", path, b""))
    assert call(base, "GET", path, signature=read)[0] == call(base, "GET", path, signature=read)[0] == 200
    assert (await api_queue.get(ticket.id)).counsellor == "partner:GH"


async def test_a_desk_reaches_only_its_own_tickets(partner_console, api_queue):
    nigerian = await api_queue.open(new_ticket("NG"))
    for method, action, data in (("GET", "", None), ("POST", "claim", None), ("POST", "close", {"outcome": "x"})):
        assert checked(partner_console, method, nigerian.id, action, data) == (404, {"error": "no such ticket"})
    assert checked(partner_console, "GET", "no-such-ticket")[0] == 404
    assert (await api_queue.get(nigerian.id)).state.value == "waiting"


@pytest.mark.parametrize(
    "raw",
    [
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"\xff\xfe",
        b"[" * 50_000,
        b'{"text": 5}',
        b'{"text": "  "}',
        json.dumps({"text": "x" * 2001}).encode(),
        b'{"words": "hello"}',
    ],
    ids=[
        "not-json",
        "array",
        "string",
        "bad-utf8",
        "nested-too-deep",
        "text-a-number",
        "text-blank",
        "text-too-long",
        "no-text",
    ],
)
async def test_a_bad_body_is_a_400_never_a_500(partner_console, api_queue, raw):
    ticket = await api_queue.open(new_ticket())
    path = f"/partner/v1/tickets/{ticket.id}/messages"
    status, body = call(partner_console, "POST", path, raw)
    assert status == 400
    conforms_to_response("POST", "/partner/v1/tickets/{ticket_id}/messages", 400, body)


def test_a_body_over_64_kib_is_refused(partner_console):
    path = "/partner/v1/tickets/any/messages"
    status, body = call(partner_console, "POST", path, json.dumps({"text": "x" * 70_000}).encode())
    assert status == 413
    conforms_to_response("POST", "/partner/v1/tickets/{ticket_id}/messages", 413, body)


def test_the_apps_partner_routes_are_the_files_paths():
    from bot.wiring.services import Services
    from bot.wiring.settings import Settings
    from console.app import create_app

    app = create_app(Services(Settings.from_environ({"REDIS_URL": REDIS_URL})))
    routes = {
        (method.lower(), "/" + route.path.replace(":str>", "}").replace("<", "{"))
        for route in app.router.routes
        if route.path.startswith("partner/")
        for method in route.methods
    }
    described = {(method, path) for path, item in OPENAPI["paths"].items() for method in item if method != "parameters"}
    assert routes == described


# -- end to end ---------------------------------------------------------------------------------


@pytest.mark.rasa
def test_a_child_on_sms_reaches_the_helplines_own_system_and_its_counsellor_answers(
    bot, console, twilio_api, partner_api
):
    phone = "+23324" + "".join(secrets.choice("0123456789") for _ in range(7))  # Ghana: desk GH has its own system
    conversation = SenderIds(CHANNEL_ENV["HELPLINE_SENDER_KEY"].encode()).of("sms", phone)
    assert post_twilio(bot, "sms", sms("i want to talk to a real person please", phone)) == 200
    twilio_api.messages_to(phone)
    mine = lambda body: "i want to talk to a real person please" in body["ticket"]["last_messages"]  # noqa: E731
    opened = partner_api.accepted(1, where=mine)[0]
    assert (
        opened["type"] == "ticket.opened"
        and opened["ticket"]["helpline"] == "GH"
        and opened["ticket"]["channel"] == "sms"
    )
    path = f"/partner/v1/tickets/{opened['ticket']['id']}"

    assert call(console, "POST", path + "/claim")[0] == 200
    before = len(twilio_api.messages_to(phone, timeout_s=0.1))
    assert (
        call(
            console,
            "POST",
            path + "/messages",
            json.dumps({"text": "Hi, this is Kofi from the helpline. Are you safe?"}).encode(),
        )[0]
        == 200
    )
    assert twilio_api.messages_to(phone, count=before + 1)[-1] == "Hi, this is Kofi from the helpline. Are you safe?"

    post_twilio(bot, "sms", sms("yes i am at home", phone))
    said = partner_api.accepted(
        1, where=lambda body: mine(body) and body.get("message", {}).get("text") == "yes i am at home"
    )
    assert said[0]["message"] == {"author": "child", "text": "yes i am at home"}
    assert call(console, "POST", path + "/close", json.dumps({"outcome": "counselling_given"}).encode())[0] == 200
    closed = partner_api.accepted(1, where=lambda body: mine(body) and body["ticket"]["state"] == "closed")
    assert closed[-1]["ticket"]["outcome"] == "counselling_given"
    told = twilio_api.messages_to(phone, count=before + 2)
    assert told[before + 1 :] == [Dialogue.load().texts.get("handoff_ended", "en")]  # the child is told it ended

    ticket_id = opened["ticket"]["id"]  # this ticket's webhooks: others' were signed minutes ago, in other tests
    ours = [each for each in partner_api.received if json.loads(each.body).get("ticket", {}).get("id") == ticket_id]
    assert len(ours) >= 3
    for received in ours:
        assert verify(GH_SECRET, received.headers["x-helpline-signature"], received.body, time.time())
        assert phone.lstrip("+") not in received.body.decode() and conversation not in received.body.decode()
        conforms(WEBHOOK_SCHEMA, json.loads(received.body))
