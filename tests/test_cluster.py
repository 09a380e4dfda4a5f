"""The bot as a cluster (issue 16, points 4 and 5): HAProxy round-robin in front of 3 Rasa servers,
2 action servers and 2 consoles, one private redis-server, fake Telegram and Twilio APIs; every
request goes through HAProxy (scripts/cluster.py), so one child's consecutive messages land on
different servers.

1. 20 children (10 on SMS, 10 on Telegram) each send 10 numbered messages, one after another as
   soon as the previous one is acknowledged, all children at once: each stored tracker holds the
   10 messages once each, in order, and what the fake APIs received for each child is exactly the
   bot's utterances of the tracker, turn after turn, in order (the tracker says which utterances
   answer which message; the channel sends each, SMS split into parts as the channel splits them).
2. The privacy notice reaches each of those children exactly once (and is in the tracker once).
3. One Rasa server killed (SIGKILL) and another stopped (SIGTERM) mid-burst: every acknowledged
   message (HTTP 200 from HAProxy, which a platform takes as delivered) is in its tracker once, in
   order. Like the platforms, a message not acknowledged is sent again (same id) before the next.
4. A counsellor's 10 replies, written in the console through HAProxy while the Rasa servers are
   stopped and restarted one after another, reach the child once each, in the order written.

Each check prints its figures (`make test-cluster` shows them): lost, duplicated, out of order.
"""

from __future__ import annotations

import random
import secrets
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, Optional

import pytest

from bot.conversation.dialogue import Dialogue
from bot.conversation.sms import split
from bot.storage.retention import DAY_S
from scripts.cluster import Cluster
from scripts.fake_apis import FakeTelegram, FakeTwilio, channel_credentials
from scripts.local_bot import http
from tests.conftest import HANDOFF_FILE
from tests.console_client import PASSWORD, Counsellor
from tests.test_channels import message, post_telegram, post_twilio, sms
from tests.test_outbox_flow import handed_to, settled_count
from tests.waiting import eventually

pytestmark = [pytest.mark.cluster, pytest.mark.rasa]

CHILDREN, MESSAGES = 20, 10
RETRIES = 5  # a message not acknowledged is sent again (same id), as Telegram and Twilio do
SETTLE_S = 60  # how long the cluster has to answer everything acknowledged (a dead server's lease: 10 s)
SMS_PREFIXES = ("+2547", "+4474", "+919", "+336", "+55119")  # countries without a desk: no ticket is opened
SMS_SEGMENTS = 3  # channels.twilio.SmsChannel splits each reply into parts of at most this many segments
ENV = {
    "HELPLINE_HANDOFF_FILE": str(HANDOFF_FILE),
    "HELPLINE_SHUTDOWN_S": "2",
    "HELPLINE_OUTBOX_CLAIM_IDLE_S": "2",
    "REDIS_TIMEOUT_MS": "500",
}


@dataclass
class Child:
    channel: str  # sms or telegram
    address: str  # phone number or chat id
    sender_id: str
    sent: list[str] = field(default_factory=list)  # texts, in the order sent
    acknowledged: list[str] = field(default_factory=list)  # those that got a 200, in order
    statuses: list[Optional[int]] = field(default_factory=list)  # every attempt's (None: no connection)


@dataclass
class Platforms:
    telegram: FakeTelegram
    twilio: FakeTwilio

    def received(self, child: Child) -> list[str]:
        """Everything the child has been sent, in the order the fake API took it."""
        if child.channel == "telegram":
            return self.telegram.texts_to(int(child.address))
        return self.twilio.bodies_to(child.address)


@pytest.fixture(scope="module")
def platforms() -> Iterator[Platforms]:
    telegram, twilio = FakeTelegram(), FakeTwilio()
    yield Platforms(telegram, twilio)
    telegram.close()
    twilio.close()


@pytest.fixture(scope="module")
def cluster(model: Path, tmp_path_factory: pytest.TempPathFactory, platforms: Platforms) -> Iterator[Cluster]:
    started = time.monotonic()
    credentials = channel_credentials(platforms.telegram, platforms.twilio)
    with Cluster(tmp_path_factory.mktemp("cluster"), model, credentials=credentials, env=ENV) as running:
        print(f"\ncluster up in {time.monotonic() - started:.1f} s: HAProxy, 3 Rasa, 2 action servers, 2 consoles")
        yield running


def children(cluster: Cluster, count: int = CHILDREN) -> list[Child]:
    """Half on SMS (countries without a desk), half on Telegram; new addresses every call."""
    found = []
    for i in range(count):
        if i % 2 == 0:
            prefix = SMS_PREFIXES[i // 2 % len(SMS_PREFIXES)]
            address = prefix + "".join(random.choices("0123456789", k=13 - len(prefix)))
            found.append(Child("sms", address, cluster.sender_id("sms", address)))
        else:
            address = str(random.randint(10**9, 10**10))
            found.append(Child("telegram", address, cluster.sender_id("telegram", address)))
    return found


def send(cluster: Cluster, child: Child, text: str) -> None:
    """One message, as the platform sends it: again (same id) until acknowledged, at most RETRIES times."""
    if child.channel == "telegram":
        update = {"update_id": random.randint(10**8, 2 * 10**9), "message": message(int(child.address), text=text)}
        attempt: Callable[[], int] = lambda: post_telegram(cluster, update)  # type: ignore[arg-type]  # noqa: E731
    else:
        form = sms(text, child.address)
        attempt = lambda: post_twilio(cluster, "sms", form)  # type: ignore[arg-type]  # noqa: E731
    child.sent.append(text)
    for _ in range(RETRIES):
        try:
            status: Optional[int] = attempt()
        except OSError:
            status = None
        child.statuses.append(status)
        if status == 200:
            child.acknowledged.append(text)
            return
        time.sleep(0.2)


def burst(cluster: Cluster, crowd: list[Child], count: int = MESSAGES, prefix: str = "message") -> None:
    """Every child sends "<prefix> 1".."<prefix> <count>", each as soon as the last was acknowledged."""

    def one(child: Child) -> None:
        for k in range(1, count + 1):
            send(cluster, child, f"{prefix} {k}")

    with ThreadPoolExecutor(len(crowd)) as pool:
        list(pool.map(one, crowd))


# -- what the cluster kept and sent ---------------------------------------------------------------


def turns(cluster: Cluster, child: Child) -> list[tuple[str, list[str]]]:
    """The stored tracker's turns: (the child's text, the bot's utterances after it), in order."""
    found: list[tuple[str, list[str]]] = []
    for event in cluster.tracker_events(child.sender_id):
        if event["event"] == "user":
            found.append((event.get("text") or "", []))
        elif event["event"] == "bot" and found and event.get("text"):
            found[-1][1].append(event["text"])
    return found


def expected_replies(child: Child, said: list[tuple[str, list[str]]]) -> list[str]:
    """What the channel sends for the tracker's utterances, in order (SMS: split into parts)."""
    texts = [text for _, replies in said for text in replies]
    if child.channel == "sms":
        return [part for text in texts for part in split(text, max_segments=SMS_SEGMENTS)]
    return texts


@dataclass
class Figures:
    """What went wrong, counted over a crowd of children."""

    acknowledged: int = 0
    unacknowledged: int = 0
    lost: int = 0  # acknowledged, not in the tracker
    duplicated: int = 0  # in the tracker more than once
    out_of_order: int = 0  # messages in the tracker before one the child sent earlier
    unanswered: int = 0  # turns without a single utterance of the bot
    replies_missing: int = 0  # utterances of the tracker the child never received
    replies_extra: int = 0  # received, beyond the tracker's (a turn answered twice, a fail-safe reply)
    replies_out_of_order: int = 0  # children whose replies came in another order than the tracker's turns
    problems: list[str] = field(default_factory=list)

    def messages_ok(self) -> bool:
        return self.lost == self.duplicated == self.out_of_order == 0

    def replies_ok(self) -> bool:
        return self.unanswered == self.replies_missing == self.replies_extra == self.replies_out_of_order == 0

    def print(self, title: str) -> None:
        print(
            f"{title}: {self.acknowledged} messages acknowledged ({self.unacknowledged} never were); in the trackers "
            f"{self.lost} lost, {self.duplicated} duplicated, {self.out_of_order} out of order; {self.unanswered} "
            f"turns unanswered; replies: {self.replies_missing} missing, {self.replies_extra} extra (sent twice or "
            f"fail-safe), {self.replies_out_of_order} children's out of order"
        )
        for problem in self.problems[:8]:
            print(f"  {problem}")


def inversions(order: list[int]) -> int:
    """How many entries come after a later-sent one (0: in the order sent)."""
    return sum(1 for i, k in enumerate(order) if any(j > k for j in order[:i]))


def figures(cluster: Cluster, platforms: Platforms, crowd: list[Child]) -> Figures:
    counted = Figures()
    for child in crowd:
        said = turns(cluster, child)
        kept = Counter(text for text, _ in said)
        counted.acknowledged += len(child.acknowledged)
        counted.unacknowledged += len(child.sent) - len(child.acknowledged)
        lost = [text for text in child.acknowledged if kept[text] == 0]
        twice = [text for text in child.sent if kept[text] > 1]
        order = [child.sent.index(text) for text, _ in said if text in child.sent]
        wrong_order = inversions(order)
        counted.lost += len(lost)
        counted.duplicated += sum(kept[text] - 1 for text in twice)
        counted.out_of_order += wrong_order
        counted.unanswered += sum(1 for _, replies in said if not replies)
        if lost or twice or wrong_order:
            counted.problems.append(f"{child.channel} tracker {[text for text, _ in said]}, lost {lost}")
        wanted, got = expected_replies(child, said), platforms.received(child)
        missing, extra = Counter(wanted) - Counter(got), Counter(got) - Counter(wanted)
        counted.replies_missing += sum(missing.values())
        counted.replies_extra += sum(extra.values())
        if not missing and not extra and got != wanted:
            counted.replies_out_of_order += 1
        if missing or extra or got != wanted:
            counted.problems.append(
                f"{child.channel} replies: missing {list(missing.elements())[:3]}, extra {list(extra.elements())[:3]}"
                + (", out of order" if got != wanted and not missing and not extra else "")
            )
    return counted


def settled(cluster: Cluster, platforms: Platforms, crowd: list[Child], timeout_s: float = SETTLE_S) -> None:
    """Wait until every acknowledged message is in its tracker and each child has received as many
    messages as the tracker's utterances make, then a little longer (for a reply sent twice)."""
    deadline = time.monotonic() + timeout_s

    def done(child: Child) -> bool:
        said = turns(cluster, child)
        kept = {text for text, _ in said}
        return set(child.acknowledged) <= kept and len(platforms.received(child)) >= len(expected_replies(child, said))

    while time.monotonic() < deadline and not all(done(child) for child in crowd):
        time.sleep(0.5)
    time.sleep(2)


# -- 1 and 2 -------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def first_burst(cluster: Cluster, platforms: Platforms) -> tuple[list[Child], float]:
    crowd = children(cluster)
    before = cluster.served()
    started = time.monotonic()
    burst(cluster, crowd)
    took = time.monotonic() - started
    settled(cluster, platforms, crowd)
    spread = {name: n - before.get(name, 0) for name, n in cluster.served().items() if name.startswith("rasa")}
    print(f"\n{CHILDREN} children x {MESSAGES} messages acknowledged in {took:.1f} s; HAProxy spread them {spread}")
    return crowd, took


def test_every_childs_messages_are_kept_once_in_order_and_answered_in_order(cluster, platforms, first_burst):
    crowd, _ = first_burst
    counted = figures(cluster, platforms, crowd)
    counted.print(f"\n1. {CHILDREN} children x {MESSAGES} messages through 3 servers")
    assert counted.unacknowledged == 0, [c.statuses for c in crowd if len(c.acknowledged) < len(c.sent)]
    assert counted.messages_ok(), counted.problems
    assert counted.replies_ok(), counted.problems


def test_the_privacy_notice_reaches_each_child_exactly_once(cluster, platforms, first_burst, dialogue: Dialogue):
    crowd, _ = first_burst
    days = dialogue.retention.conversation_s // DAY_S
    notices = {dialogue.texts.get("privacy_notice", code, days=days) for code in dialogue.registry.codes}
    firsts = {split(notice, max_segments=SMS_SEGMENTS)[0] for notice in notices}  # as SMS sends it
    received, kept = Counter(), Counter()
    for child in crowd:
        received[
            sum(text in (firsts if child.channel == "sms" else notices) for text in platforms.received(child))
        ] += 1
        kept[sum(text in notices for _, replies in turns(cluster, child) for text in replies)] += 1
    print(
        f"\n2. the privacy notice (in the child's language), children by how many times they received it: "
        f"{dict(sorted(received.items()))}; by how many times their tracker says it: {dict(sorted(kept.items()))}"
    )
    assert received == {1: CHILDREN} and kept == {1: CHILDREN}


# -- 3 ---------------------------------------------------------------------------------------------


def test_no_acknowledged_message_is_lost_when_one_server_is_killed_and_another_stopped_mid_burst(cluster, platforms):
    crowd = children(cluster)
    total = CHILDREN * MESSAGES
    events: list[str] = []

    def faults() -> None:
        """SIGKILL to server 1 a quarter into the burst, SIGTERM to server 2 half-way."""
        for share, act in ((0.25, "kill"), (0.5, "term")):
            while sum(len(c.acknowledged) for c in crowd) < total * share and any(
                len(c.sent) < MESSAGES for c in crowd
            ):
                time.sleep(0.01)
            at = sum(len(c.acknowledged) for c in crowd)
            if act == "kill":
                cluster.kill(0)
                events.append(f"rasa1 SIGKILL after {at} acknowledged")
            else:
                code = cluster.terminate(1)
                events.append(f"rasa2 SIGTERM after {at} acknowledged: exit code {code}")

    faulting = threading.Thread(target=faults)
    faulting.start()
    burst(cluster, crowd)
    faulting.join()
    for index in (0, 1):  # back, as an orchestrator would bring them: the cluster is whole again
        cluster.restart(index)
    settled(cluster, platforms, crowd)
    counted = figures(cluster, platforms, crowd)
    statuses = Counter(status for child in crowd for status in child.statuses)
    counted.print(f"\n3. {'; '.join(events)}; statuses from HAProxy {dict(statuses)}")
    assert len(events) == 2 and "exit code 0" in events[1], events
    assert counted.messages_ok(), counted.problems
    assert counted.unanswered == 0, counted.problems
    assert counted.replies_ok(), counted.problems  # no turn answered twice by a dead server and its successor


# -- 4 ---------------------------------------------------------------------------------------------

REPLIES = 10


def test_a_counsellors_replies_arrive_in_order_while_the_rasa_servers_restart(cluster, platforms):
    name = f"ngozi-{secrets.token_hex(3)}"
    cluster.add_counsellor(name, "NG", PASSWORD)
    counsellor = Counsellor(cluster.console_url, name)
    assert counsellor.login() == 200
    chat = random.randint(10**9, 10**10)
    ticket = handed_to(counsellor, cluster, chat, "can i talk to a real person please")  # type: ignore[arg-type]
    before = settled_count(platforms.telegram, chat)
    wanted = [f"counsellor's reply {i + 1} of {REPLIES}" for i in range(REPLIES)]
    restarts: list[str] = []

    def rolling_restart() -> None:
        """Each Rasa server in turn: stopped (SIGTERM; the second one SIGKILL), then started again."""
        for index in range(len(cluster.rasa)):
            started = time.monotonic()
            if index == 1:
                cluster.kill(index)
                how = "SIGKILL"
            else:
                how = f"SIGTERM, exit code {cluster.terminate(index)}"
            cluster.restart(index)
            restarts.append(f"rasa{index + 1} {how}, back in {time.monotonic() - started:.1f} s")

    restarting = threading.Thread(target=rolling_restart)
    restarting.start()
    statuses = []
    for i, text in enumerate(wanted):
        status = 0
        for _ in range(RETRIES):  # the console's page sends a reply again with the same key
            status = counsellor.post(f"/api/tickets/{ticket}/reply", {"text": text, "key": f"cluster-{i:04}"})[0]
            if status == 200:
                break
            time.sleep(0.5)
        statuses.append(status)
        time.sleep(1.5)  # spread over the restarts
    restarting.join()
    deadline = time.monotonic() + SETTLE_S
    while time.monotonic() < deadline:
        got = platforms.telegram.texts_to(chat)[before:]
        if set(wanted) <= set(got):
            break
        time.sleep(0.5)
    time.sleep(2)  # a reply sent twice would be here by now
    got = platforms.telegram.texts_to(chat)[before:]
    replies = [text for text in got if text in wanted]
    counts = Counter(replies)
    lost = [text for text in wanted if counts[text] == 0]
    duplicated = sum(n - 1 for n in counts.values() if n > 1)
    firsts = [wanted.index(text) for text in dict.fromkeys(replies)]
    print(
        f"\n4. a counsellor's {REPLIES} replies during a rolling restart ({'; '.join(restarts)}): console answered "
        f"{Counter(statuses)}; at the child {len(lost)} lost, {duplicated} duplicated, "
        f"{inversions(firsts)} out of order; other messages meanwhile: {len(got) - len(replies)}"
    )
    if replies != wanted:
        print(f"  the child received: {[text.split(' ')[2] for text in replies]}")
    assert statuses == [200] * REPLIES
    assert replies == wanted
    assert eventually(lambda: all(cluster.health(i)[0] == 200 for i in range(len(cluster.rasa))))


def test_every_server_still_answers_after_the_faults(cluster):
    assert all(server.running for server in cluster.rasa + cluster.actions + cluster.consoles)
    assert http("GET", f"{cluster.url}/webhooks/rest/")[0] == 200
