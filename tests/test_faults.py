"""The fault suite: what children get when Redis, the action server or a Rasa server fails.

The whole bot (Rasa server and action server, `scripts/local_bot.py`) runs on a private
redis-server of this module's own (tests/private_redis.py), which is killed, frozen (SIGSTOP) and
restarted for real, with the fake Telegram and Twilio APIs; signed webhooks as the platforms send
them. Each row prints its figure (`make test-faults` shows them).

- Redis refused, then frozen: 25 children, five on each channel, each get their country's helpline
  and emergency number within 1 s; once Redis is back the bot answers normally, not restarted.
- The action server killed: the rest channel gives the fail-safe reply with the numbers.
- SIGTERM to the Rasa server during a burst of 50 acknowledged SMS: it exits 0 and a new server on
  the same Redis answers what it left; SIGKILL: the same, with nothing handed back.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import signal
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Optional

import pytest
import redis.asyncio as aioredis
from twilio.request_validator import RequestValidator

from bot.conversation.dialogue import Dialogue
from bot.handoff.counsellors import Counsellors
from scripts.fake_apis import (
    PUBLIC_URL,
    TELEGRAM_SECRET,
    TWILIO_TOKEN,
    FakeTelegram,
    FakeTwilio,
    channel_credentials,
)
from scripts.local_bot import RunningBot, http, running_bot, running_console
from scripts.private_redis import PrivateRedis
from tests.conftest import HANDOFF_FILE
from tests.console_client import PASSWORD, Counsellor
from tests.numbers import emergency, gives, helpline_number

pytestmark = [pytest.mark.faults, pytest.mark.rasa]

LIMIT_S = 1.0  # every child has both numbers within this of their webhook
CHANNELS = ("telegram", "whatsapp", "sms", "web", "rest")
# (country, language, phone, what the child writes): five children on each channel.
PEOPLE = (
    ("KE", "sw", "+2547", "nisaidie tafadhali"),
    ("FR", "fr", "+336", "aidez moi s'il vous plaît"),
    ("BR", "pt", "+55119", "me ajuda por favor"),
    ("IN", "hi", "+919", "मेरी मदद करो"),
    ("DE", "de", "+49151", "hilf mir bitte"),
)
ENV = {
    "HELPLINE_SENDER_KEY": secrets.token_hex(32),
    "HELPLINE_REDIS_PREFIX": "faults:",
    "REDIS_TIMEOUT_MS": "200",
    "HELPLINE_SHUTDOWN_S": "2",
}
TEXTS = Dialogue.load().texts
FALLBACK_INTROS = {TEXTS.get("fallback_intro", language) for _, language, _, _ in PEOPLE} | {
    TEXTS.get("fallback_intro", "en")
}


def phone(prefix: str) -> str:
    return prefix + "".join(secrets.choice("0123456789") for _ in range(12 - len(prefix) + 1))


@dataclass
class Answer:
    status: int
    texts: list[str]  # everything the child was sent within the wait, in order
    seconds: Optional[float]  # from the webhook to the moment both numbers were there; None if never

    @property
    def joined(self) -> str:
        return "\n".join(self.texts)

    @property
    def fail_safe(self) -> bool:
        return any(text.startswith(tuple(FALLBACK_INTROS)) for text in self.texts)


@dataclass
class Child:
    channel: str
    country: str
    language: str
    address: str  # chat id, phone number, web token or rest sender
    words: str

    def done(self, text: str) -> bool:
        return gives(text, helpline_number(self.country)) and gives(text, emergency(self.country))


class Platforms:
    """How each channel's webhook is called, and where its answer shows up (inline or at a fake API)."""

    def __init__(self, telegram: FakeTelegram, twilio: FakeTwilio) -> None:
        self.telegram, self.twilio = telegram, twilio

    def say(
        self,
        bot: RunningBot,
        child: Child,
        text: str,
        wait_s: float = LIMIT_S + 2,
        until: Optional[Callable[[str], bool]] = None,
    ) -> Answer:
        """Post ``text`` as ``child`` and collect what reaches them until ``until`` holds of it (by
        default: both numbers are there), at most ``wait_s``."""
        until = until or child.done
        api: Optional[Any] = None
        match: Callable[[str, dict[str, Any]], bool] = lambda path, params: False  # noqa: E731
        if child.channel == "telegram":
            api = self.telegram
            match = lambda path, params: path.endswith("/sendMessage") and str(params.get("chat_id")) == child.address  # noqa: E731
        elif child.channel in ("sms", "whatsapp"):
            api = self.twilio
            to = ("whatsapp:" if child.channel == "whatsapp" else "") + child.address
            match = lambda path, params: params.get("To") == to  # noqa: E731
        mark = api.mark() if api else 0
        start = time.monotonic()
        status, inline = self._post(bot, child, text)
        answered = time.monotonic()
        timeline = [(answered, line) for line in inline]
        if api is not None:
            deadline = start + wait_s
            while time.monotonic() < deadline and not until("\n".join(t for _, t in timeline)):
                time.sleep(0.02)
                timeline = [(answered, line) for line in inline] + [
                    (at, str(params.get("text") or params.get("Body"))) for at, params in api.since(mark, match)
                ]
            timeline.sort(key=lambda pair: pair[0])
        seconds, so_far = None, ""
        for at, line in timeline:
            so_far += line + "\n"
            if child.done(so_far):
                seconds = at - start
                break
        return Answer(status, [line for _, line in timeline], seconds)

    def _post(self, bot: RunningBot, child: Child, text: str) -> tuple[int, list[str]]:
        """The webhook's status and what its own response says to the child."""
        if child.channel == "telegram":
            chat = int(child.address)
            update = {
                "update_id": secrets.randbelow(10**9),
                "message": {
                    "message_id": secrets.randbelow(10**6),
                    "date": int(time.time()),
                    "chat": {"id": chat, "type": "private"},
                    "from": {"id": chat, "is_bot": False, "first_name": "Kid", "language_code": child.language},
                    "text": text,
                },
            }
            headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET}
            status, raw = http("POST", bot.webhook("telegram"), json.dumps(update).encode(), headers)
            body = json.loads(raw or b"{}")
            return status, [body["text"]] if body.get("method") == "sendMessage" else []
        if child.channel in ("sms", "whatsapp"):
            prefix = "whatsapp:" if child.channel == "whatsapp" else ""
            form = {
                "MessageSid": f"SM{secrets.token_hex(16)}",
                "AccountSid": "AC" + "0" * 32,
                "From": prefix + child.address,
                "To": prefix + "+15005550006",
                "Body": text,
                "NumMedia": "0",
            }
            return post_twilio(bot, child.channel, form)
        metadata = {"country": child.country, "language": child.language}
        if child.channel == "web":
            headers = {"Authorization": f"Bearer {child.address}", "Content-Type": "application/json"}
            body = json.dumps({"message": text, "metadata": metadata}).encode()
            status, raw = http("POST", bot.webhook("web"), body, headers)
            return status, [m["text"] for m in json.loads(raw).get("messages", [])] if status == 200 else []
        body = json.dumps({"sender": child.address, "message": text, "metadata": metadata}).encode()
        status, raw = http("POST", bot.webhook("rest"), body, {"Content-Type": "application/json"})
        return status, [m["text"] for m in json.loads(raw)] if status == 200 else []


def post_twilio(bot: RunningBot, channel: str, form: dict[str, str]) -> tuple[int, list[str]]:
    """A signed Twilio webhook; the status and the TwiML messages of its response."""
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(f"{PUBLIC_URL}/webhooks/{channel}/webhook", form)
    headers = {"Content-Type": "application/x-www-form-urlencoded", "X-Twilio-Signature": signature}
    status, raw = http("POST", bot.webhook(channel), urllib.parse.urlencode(form).encode(), headers)
    bodies = re.findall(r"<Message>(.*?)</Message>", raw.decode("utf-8"), re.S)
    return status, [body.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for body in bodies]


def children(channels: tuple[str, ...] = CHANNELS) -> list[Child]:
    made = []
    for channel in channels:
        for country, language, prefix, words in PEOPLE:
            address = {
                "telegram": str(10**9 + secrets.randbelow(9 * 10**9)),
                "sms": phone(prefix),
                "whatsapp": phone(prefix),
                "web": secrets.token_hex(32),
                "rest": f"rest-{secrets.token_hex(8)}",
            }[channel]
            made.append(Child(channel, country, language, address, words))
    return made


def greet(platforms: Platforms, bot: RunningBot, crowd: list[Child]) -> None:
    """Each child's first message while all is well: Telegram children come by their helpline's
    deep link (t.me/<bot>?start=KE_sw), the only way Telegram tells their country."""
    for child in crowd:
        first = f"/start {child.country}_{child.language}" if child.channel == "telegram" else child.words
        answer = platforms.say(bot, child, first, wait_s=20)
        assert answer.status == 200 and answer.seconds is not None and not answer.fail_safe, (child, answer)


def all_at_once(platforms: Platforms, bot: RunningBot, crowd: list[Child]) -> list[Answer]:
    with ThreadPoolExecutor(len(crowd)) as pool:
        return list(pool.map(lambda child: platforms.say(bot, child, child.words), crowd))


def report(row: str, crowd: list[Child], answers: list[Answer]) -> tuple[int, list[str]]:
    """Print the row's figure per channel; return how many got both numbers in time, and the misses."""
    in_time = [a.status == 200 and a.seconds is not None and a.seconds <= LIMIT_S for a in answers]
    print(f"\n{row}: {sum(in_time)}/{len(crowd)} children had both numbers within {LIMIT_S:.0f} s")
    for channel in CHANNELS:
        mine = [(ok, a) for child, ok, a in zip(crowd, in_time, answers, strict=True) if child.channel == channel]
        if mine:
            times = [a.seconds for _, a in mine if a.seconds is not None]
            slowest = f"{max(times) * 1000:.0f} ms" if times else "-"
            print(f"  {channel:9} {sum(ok for ok, _ in mine)}/{len(mine)}  slowest {slowest}")
    misses = [
        f"{c.channel} {c.country}: {a.status} {a.seconds} {a.texts}"
        for c, ok, a in zip(crowd, in_time, answers, strict=True)
    ]
    return sum(in_time), [miss for miss, ok in zip(misses, in_time, strict=True) if not ok]


def carries_on(platforms: Platforms, bot: RunningBot, crowd: list[Child], since: float) -> None:
    """One child per channel writes again: a normal answer (Rasa's, not the fail-safe one)."""
    assert bot.actions is not None
    assert (bot.server.poll(), bot.actions.poll()) == (None, None), "a server of the bot exited"
    one_each = [next(c for c in crowd if c.channel == channel) for channel in CHANNELS]
    answers = [platforms.say(bot, child, child.words, wait_s=20, until=lambda said: bool(said)) for child in one_each]
    normal = [a.status == 200 and bool(a.texts) and not a.fail_safe for a in answers]
    print(f"  after {time.monotonic() - since:.1f} s: {sum(normal)}/{len(one_each)} channels answer normally again")
    assert all(normal), [(c.channel, a.status, a.texts) for c, a in zip(one_each, answers, strict=True)]


# -- the bot on a private Redis ---------------------------------------------------------------


@pytest.fixture(scope="module")
def private_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.close()


@pytest.fixture(scope="module")
def platforms(telegram_api: FakeTelegram, twilio_api: FakeTwilio) -> Platforms:
    return Platforms(telegram_api, twilio_api)


class Servers:
    """Bots started one after another on the private Redis (a restarted or sibling server)."""

    def __init__(self, model: Path, folder: Path, platforms: Platforms, redis: PrivateRedis) -> None:
        self._model, self._folder, self._platforms, self._redis = model, folder, platforms, redis
        self._running: dict[int, ExitStack] = {}  # id of a started bot -> what stops it
        self.started = 0

    def start(self, **env_extra: str) -> RunningBot:
        self.started += 1
        folder = self._folder / f"bot{self.started}"
        folder.mkdir()
        credentials = channel_credentials(self._platforms.telegram, self._platforms.twilio)
        env = {**ENV, "REDIS_URL": self._redis.url, **env_extra}
        stack = ExitStack()
        bot = stack.enter_context(running_bot(folder, self._model, credentials, env))
        self._running[id(bot)] = stack
        return bot

    def retire(self, bot: RunningBot) -> None:
        """Stop ``bot`` (or what is left of it), so that it takes no part in what comes next."""
        self._running.pop(id(bot)).close()

    def close(self) -> None:
        for stack in self._running.values():
            stack.close()


@pytest.fixture(scope="module")
def servers(model, tmp_path_factory, platforms, private_redis) -> Iterator[Servers]:
    started = Servers(model, tmp_path_factory.mktemp("faults"), platforms, private_redis)
    yield started
    started.close()


@pytest.fixture(scope="module")
def faulty_bot(servers: Servers) -> RunningBot:
    return servers.start()


# -- Redis --------------------------------------------------------------------------------------


def test_redis_refused_every_child_gets_both_numbers_within_a_second_and_the_bot_carries_on(
    faulty_bot, platforms, private_redis
):
    crowd = children()
    greet(platforms, faulty_bot, crowd)
    faults_before = health(faulty_bot)["faults"].get("store_unavailable", 0)
    private_redis.kill()
    try:
        got, misses = report("Redis refused (killed)", crowd, all_at_once(platforms, faulty_bot, crowd))
        during = health(faulty_bot)
    finally:
        private_redis.start()
    back = time.monotonic()
    time.sleep(1.5)  # the bot tries Redis again once a second
    carries_on(platforms, faulty_bot, crowd, back)
    after = health(faulty_bot)
    counted = during["faults"].get("store_unavailable", 0) - faults_before
    print(f"  health while down: {during['status']}, Redis {during['redis']}, {counted} store faults counted")
    assert got == len(crowd), misses
    assert (during["status"], during["redis"]) == ("degraded", "down") and counted >= len(crowd)
    assert (after["status"], after["redis"]) == ("ok", "up")


FROZEN_S = 4.0


def test_redis_frozen_every_child_gets_both_numbers_within_a_second_and_the_bot_carries_on(
    faulty_bot, platforms, private_redis
):
    crowd = children()
    greet(platforms, faulty_bot, crowd)
    private_redis.freeze()
    frozen = time.monotonic()
    try:
        got, misses = report("Redis frozen (SIGSTOP)", crowd, all_at_once(platforms, faulty_bot, crowd))
        time.sleep(max(0.0, FROZEN_S - (time.monotonic() - frozen)))
        again = all_at_once(platforms, faulty_bot, crowd)  # the same children again, seconds into the freeze
        got_late, misses_late = report(f"  ...again {FROZEN_S:.0f} s into it", crowd, again)
    finally:
        private_redis.thaw()
    back = time.monotonic()
    marks = platforms.telegram.mark(), platforms.twilio.mark()
    time.sleep(1.5)
    carries_on(platforms, faulty_bot, crowd, back)
    time.sleep(2)
    again = answered_after_thaw(platforms, crowd, marks)
    print(f"  answered again after the thaw (journalled as Redis woke up): {again}/{3 * len(PEOPLE) - 3}")
    assert got == len(crowd), misses
    assert got_late == len(crowd), misses_late
    assert health(faulty_bot)["redis"] == "up"


def answered_after_thaw(platforms: Platforms, crowd: list[Child], marks: tuple[int, int]) -> int:
    """Telegram, SMS and WhatsApp children (but the one per channel who wrote again) sent something
    after the thaw: a message whose journalling timed out, recorded all the same when Redis woke."""
    wrote_again = {next(c for c in crowd if c.channel == channel).address for channel in CHANNELS}
    every = lambda path, params: True  # noqa: E731
    sent_to = {str(params.get("chat_id")) for _, params in platforms.telegram.since(marks[0], every)}
    sent_to |= {str(q.get("To")).removeprefix("whatsapp:") for _, q in platforms.twilio.since(marks[1], every)}
    return len({c.address for c in crowd if c.address in sent_to} - wrote_again)


def health(bot: RunningBot) -> dict[str, Any]:
    status, raw = http("GET", f"{bot.base_url}/webhooks/rest/")
    assert status == 200
    return json.loads(raw)


# -- the counsellors' console ------------------------------------------------------------------


def test_a_counsellor_is_told_the_queue_cannot_be_reached_while_redis_is_frozen(private_redis, tmp_path):
    env = {**ENV, "REDIS_URL": private_redis.url, "HELPLINE_HANDOFF_FILE": str(HANDOFF_FILE)}
    name = f"amina-{secrets.token_hex(3)}"

    async def create() -> None:
        client = aioredis.from_url(private_redis.url)
        await Counsellors(client, ENV["HELPLINE_REDIS_PREFIX"] + "console:").add(name, "NG", PASSWORD)
        await client.close()

    asyncio.run(create())
    with running_console(tmp_path, env) as base:
        counsellor = Counsellor(base, name)
        assert counsellor.login() == 200 and counsellor.get("/api/queue")[0] == 200
        private_redis.freeze()
        try:
            start = time.monotonic()
            status, answer = counsellor.get("/api/queue")
            took = time.monotonic() - start
        finally:
            private_redis.thaw()
        time.sleep(1.5)
        back = counsellor.get("/api/queue")[0]
    print(f"\nconsole, Redis frozen: {status} in {took * 1000:.0f} ms ({answer.get('error')}); thawed: {back}")
    assert status == 503 and answer == {"error": "the queue cannot be reached just now: try again in a moment"}
    assert took < LIMIT_S and back == 200


# -- the action server --------------------------------------------------------------------------


def test_the_rest_channel_gives_the_fail_safe_numbers_when_the_action_server_is_down(faulty_bot, platforms, servers):
    assert faulty_bot.actions is not None
    faulty_bot.actions.kill()
    faulty_bot.actions.wait()
    crowd = children(("rest",))
    answers = [platforms.say(faulty_bot, child, child.words) for child in crowd]
    servers.retire(faulty_bot)  # its last row: it must not answer the next rows' messages with the numbers alone
    got, misses = report("rest, action server killed", crowd, answers)
    assert got == len(crowd) and all(a.fail_safe for a in answers), misses


# -- a Rasa server stopped or killed mid-burst --------------------------------------------------

BURST = 50


def burst(bot: RunningBot) -> tuple[list[str], list[int]]:
    """50 children each send an SMS at once; their numbers and the webhooks' statuses."""
    phones = [phone(PEOPLE[i % len(PEOPLE)][2]) for i in range(BURST)]

    def send(number: str) -> int:
        status, inline = post_twilio(bot, "sms", sms_form(number))
        assert not inline, "a fail-safe reply: the message was not journalled"
        return status

    with ThreadPoolExecutor(BURST) as pool:
        return phones, list(pool.map(send, phones))


def sms_form(number: str, text: str = "hi") -> dict[str, str]:
    return {
        "MessageSid": f"SM{secrets.token_hex(16)}",
        "AccountSid": "AC" + "0" * 32,
        "From": number,
        "To": "+15005550006",
        "Body": text,
        "NumMedia": "0",
    }


def answered(twilio: FakeTwilio, phones: list[str], mark: int) -> set[str]:
    """Which of ``phones`` the bot has answered since ``mark``, really: not with the fail-safe reply."""
    bodies: dict[str, list[str]] = {}
    for _, params in twilio.since(mark, lambda path, params: params.get("To") in phones):
        bodies.setdefault(str(params.get("To")), []).append(str(params.get("Body")))
    return {number for number, said in bodies.items() if not any(b.startswith(tuple(FALLBACK_INTROS)) for b in said)}


def finished_by_a_new_server(servers: Servers, twilio: FakeTwilio, phones: list[str], mark: int) -> set[str]:
    successor = servers.start()
    deadline = time.monotonic() + 60
    while len(answered(twilio, phones, mark)) < len(phones) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert successor.server.poll() is None
    return answered(twilio, phones, mark)


def test_sigterm_mid_burst_exits_cleanly_and_a_new_server_answers_every_acknowledged_sms(
    servers, platforms, private_redis
):
    victim = servers.start(HELPLINE_SHUTDOWN_S="1")  # less than the burst takes: some turns are handed back
    mark = platforms.twilio.mark()
    phones, statuses = burst(victim)
    assert statuses == [200] * BURST
    victim.server.send_signal(signal.SIGTERM)
    stopping = time.monotonic()
    late = while_stopping(victim)
    try:
        code = victim.server.wait(timeout=60)
    except subprocess.TimeoutExpired:
        code = None
    took = time.monotonic() - stopping
    by_victim = answered(platforms.twilio, phones, mark)
    stopped = re.search(r"stopped in [\d.]+ s: (\d+) conversations and \d+ outgoing messages", victim.log.read_text())
    servers.retire(victim)
    acknowledged = [number for number, status in late if status == 200]
    print(
        f"\nSIGTERM mid-burst: exit code {code} after {took:.1f} s; {len(by_victim)}/{BURST} answered before it, "
        f"{stopped.group(1) if stopped else '?'} conversations handed back; SMS sent while it stopped: "
        f"{len(acknowledged)} acknowledged, {len(late) - len(acknowledged)} refused"
    )
    everyone = finished_by_a_new_server(servers, platforms.twilio, phones + acknowledged, mark)
    print(f"  a new server on the same Redis: {len(everyone)}/{BURST + len(acknowledged)} acknowledged SMS answered")
    print(f"  answered twice: {len(twice(platforms.twilio, phones + acknowledged, mark))}")
    assert code == 0 and stopped is not None
    assert everyone == set(phones + acknowledged)
    assert all(status in (200, None) for _, status in late)  # acknowledged, or the connection refused: never a 5xx


def while_stopping(bot: RunningBot) -> list[tuple[str, Optional[int]]]:
    """SMS sent one after another while ``bot`` stops: (number, status or None if refused)."""
    sent: list[tuple[str, Optional[int]]] = []
    while bot.server.poll() is None and len(sent) < BURST:
        number = phone(PEOPLE[len(sent) % len(PEOPLE)][2])
        try:
            status: Optional[int] = post_twilio(bot, "sms", sms_form(number))[0]
        except OSError:
            status = None
        sent.append((number, status))
    return sent


def twice(twilio: FakeTwilio, phones: list[str], mark: int) -> list[str]:
    """Numbers sent the same text twice: a turn answered by two servers."""
    bodies: dict[str, list[str]] = {}
    for _, params in twilio.since(mark, lambda path, params: params.get("To") in phones):
        bodies.setdefault(str(params.get("To")), []).append(str(params.get("Body")))
    return [number for number, said in bodies.items() if len(said) != len(set(said))]


def test_sigkill_mid_burst_a_new_server_answers_every_acknowledged_sms(servers, platforms, private_redis):
    victim = servers.start()
    mark = platforms.twilio.mark()
    phones, statuses = burst(victim)
    assert statuses == [200] * BURST
    victim.server.kill()
    victim.server.wait()
    by_victim = answered(platforms.twilio, phones, mark)
    servers.retire(victim)
    print(f"\nSIGKILL mid-burst: {len(by_victim)}/{BURST} answered before it died")
    everyone = finished_by_a_new_server(servers, platforms.twilio, phones, mark)
    print(f"  a new server on the same Redis: {len(everyone)}/{BURST} answered")
    print(f"  answered twice: {len(twice(platforms.twilio, phones, mark))}")
    assert everyone == set(phones)
