"""Telegram, SMS and WhatsApp through the whole bot, against fake Telegram and Twilio APIs.

Real payloads (Telegram Update JSON, Twilio form posts signed with twilio's own validator), real
python-telegram-bot and twilio clients, the trained model, the action server and Redis.
"""

from __future__ import annotations

import json
import random
import time
import urllib.parse
from typing import Any, Callable, Iterator

import pytest
from twilio.request_validator import RequestValidator

from bot import PROJECT_ROOT
from bot.conversation.dialogue import MAIN_MENU, Dialogue
from bot.conversation.sms import segments
from bot.language.texts import Texts
from scripts.fake_apis import PUBLIC_URL, SMS_FROM, TELEGRAM_SECRET, TWILIO_TOKEN, channel_credentials
from scripts.local_bot import RunningBot, http, running_bot
from tests.conftest import CHANNEL_ENV
from tests.numbers import country as country_entry
from tests.numbers import emergency, gives, helpline, helpline_number, number

pytestmark = pytest.mark.rasa

# Every chat id, phone number and text used here, to look for them in the server's log at the end.
SEEN: list[str] = []


def new_chat() -> int:
    chat = random.randint(10**9, 10**10)
    SEEN.append(str(chat))
    return chat


def new_phone(prefix: str = "+2547") -> str:
    phone = prefix + "".join(random.choices("0123456789", k=12 - len(prefix) + 1))
    SEEN.append(phone)
    return phone


@pytest.fixture(scope="module")
def texts(dialogue) -> Texts:
    return dialogue.texts


def update_id() -> int:
    return random.randint(10**8, 2 * 10**9)  # unique per run: dedupe keys live in Redis for a day


def user(chat: int, language: str = "en") -> dict[str, Any]:
    return {"id": chat, "is_bot": False, "first_name": "Kid", "language_code": language}


def message(chat: int, language: str = "en", **content: Any) -> dict[str, Any]:
    if "text" in content:
        SEEN.append(content["text"])
    return {
        "message_id": random.randint(1, 10**6),
        "date": int(time.time()),
        "chat": {"id": chat, "type": "private"},
        "from": user(chat, language),
        **content,
    }


def post_telegram(
    bot: RunningBot, update: dict[str, Any], secret: str = TELEGRAM_SECRET, raw: bytes | None = None
) -> int:
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    return http("POST", bot.webhook("telegram"), raw if raw is not None else json.dumps(update).encode(), headers)[0]


def say_telegram(bot: RunningBot, chat: int, text: str, language: str = "en") -> int:
    return post_telegram(bot, {"update_id": update_id(), "message": message(chat, language, text=text)})


def post_twilio(bot: RunningBot, channel: str, form: dict[str, str], signature: str | None = "sign") -> int:
    url = f"{PUBLIC_URL}/webhooks/{channel}/webhook"
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    if signature == "sign":
        headers["X-Twilio-Signature"] = RequestValidator(TWILIO_TOKEN).compute_signature(url, form)
    elif signature is not None:
        headers["X-Twilio-Signature"] = signature
    return http("POST", bot.webhook(channel), urllib.parse.urlencode(form).encode(), headers)[0]


def sms(text: str, phone: str, to: str = SMS_FROM, **extra: str) -> dict[str, str]:
    SEEN.append(text)
    return {
        "MessageSid": f"SM{random.getrandbits(128):032x}",
        "AccountSid": "AC" + "0" * 32,
        "From": phone,
        "To": to,
        "Body": text,
        "NumMedia": "0",
        **extra,
    }


# -- Telegram -------------------------------------------------------------------------------------


def test_telegram_refuses_forged_and_missing_secrets(bot, telegram_api):
    chat = new_chat()
    update = {"update_id": update_id(), "message": message(chat, text="hi")}
    assert post_telegram(bot, update, secret="wrong-secret-wrong-secret") == 403
    assert post_telegram(bot, update, secret=None) == 403
    assert post_telegram(bot, update, secret=TELEGRAM_SECRET[:-1]) == 403
    time.sleep(1)
    assert telegram_api.messages_to(chat, timeout_s=0.1) == []


@pytest.mark.parametrize("raw", [b"not json", b"[1, 2]", b"\xff\xfe", b'{"no_update_id": true}'])
def test_telegram_refuses_malformed_bodies(bot, raw):
    assert post_telegram(bot, {}, raw=raw) == 400


def test_telegram_text_gets_a_reply_in_the_childs_language_with_buttons(bot, telegram_api, texts):
    chat = new_chat()
    assert say_telegram(bot, chat, "bonjour", language="fr") == 200
    replies = telegram_api.messages_to(chat, count=5)
    options = [texts.get(key, "fr") for key, _ in MAIN_MENU]
    menu = texts.get("menu_prompt", "fr") + "\n" + "\n".join(f"{n}. {title}" for n, title in enumerate(options, 1))
    # All in French: the first-contact notice, the greeting, what to do without a country, the menu.
    assert [r["text"] for r in replies] == [
        texts.get("privacy_notice", "fr", days=30),
        texts.get("greet", "fr"),
        texts.get("emergency_unknown", "fr"),
        texts.get("floor_ask_country", "fr"),
        menu,
    ]
    assert [r["reply_markup"] for r in replies[:-1]] == [None] * 4  # the buttons go with the menu only
    keyboard = replies[-1]["reply_markup"]["inline_keyboard"]
    assert [(row[0]["callback_data"], row[0]["text"]) for row in keyboard] == [
        (str(n), title) for n, title in enumerate(options, 1)
    ]


def test_a_button_press_answers_the_menu(bot, telegram_api):
    chat = new_chat()
    post_telegram(bot, {"update_id": update_id(), "message": message(chat, text="/start KE")})
    greeted = telegram_api.messages_to(chat, count=5)
    assert greeted[-1]["reply_markup"]["inline_keyboard"][0][0]["callback_data"] == "1"  # the menu to press
    press = {
        "update_id": update_id(),
        "callback_query": {
            "id": "q-" + str(chat),
            "from": user(chat),
            "chat_instance": "c",
            "data": "1",
            "message": message(chat, text="menu"),
        },
    }
    assert post_telegram(bot, press) == 200
    replies = telegram_api.messages_to(chat, count=len(greeted) + 1)
    assert len(replies) == len(greeted) + 1  # one answer to the press: option 1, the helpline number
    answer = replies[-1]["text"]  # Kenya's helpline, from the deep link
    assert helpline("KE").name in answer and gives(answer, helpline_number("KE")), answer
    assert telegram_api.wait_for(
        lambda p, q: p.endswith("/answerCallbackQuery") and q.get("callback_query_id") == f"q-{chat}"
    )


def test_a_retried_update_is_answered_once(bot, telegram_api, texts):
    chat = new_chat()
    update = {"update_id": update_id(), "message": message(chat, text="thank you bye")}
    assert [post_telegram(bot, update) for _ in range(3)] == [200, 200, 200]
    said = [m["text"] for m in telegram_api.messages_to(chat, count=9, timeout_s=8)]
    # One turn's reply, once: the notice, the goodbye, and what a first contact without a country gets.
    assert said == [
        texts.get("privacy_notice", "en", days=30),
        texts.get("thanks_bye", "en"),
        texts.get("emergency_unknown", "en"),
        texts.get("floor_ask_country", "en"),
    ]


@pytest.mark.parametrize(
    "content",
    [
        {"photo": [{"file_id": "f", "file_unique_id": "u", "width": 90, "height": 90}]},
        {
            "sticker": {
                "file_id": "f",
                "file_unique_id": "u",
                "width": 512,
                "height": 512,
                "is_animated": False,
                "is_video": False,
                "type": "regular",
            }
        },
        {"voice": {"file_id": "f", "file_unique_id": "u", "duration": 3}},
    ],
)
def test_pictures_stickers_and_voice_get_a_kind_reply(bot, telegram_api, texts, content):
    chat = new_chat()
    post_telegram(bot, {"update_id": update_id(), "message": message(chat, language="es", **content)})
    replies = telegram_api.messages_to(chat, count=2)
    # "Escríbeme con palabras", in the child's Spanish; nothing written to go on: the numbers too, and
    # Telegram tells no country, so the advice to call the local emergency number.
    assert [r["text"] for r in replies] == [texts.get("only_words", "es"), texts.get("emergency_unknown", "es")]


def test_edits_and_membership_changes_get_no_reply(bot, telegram_api):
    chat = new_chat()
    edited = {**message(chat, text="hello"), "edit_date": int(time.time())}
    assert post_telegram(bot, {"update_id": update_id(), "edited_message": edited}) == 200
    member = {
        "chat": {"id": chat, "type": "private"},
        "from": user(chat),
        "date": int(time.time()),
        "old_chat_member": {"user": {"id": 1, "is_bot": True, "first_name": "Helpline"}, "status": "member"},
        "new_chat_member": {
            "user": {"id": 1, "is_bot": True, "first_name": "Helpline"},
            "status": "kicked",
            "until_date": 0,
        },
    }
    assert post_telegram(bot, {"update_id": update_id(), "my_chat_member": member}) == 200
    assert telegram_api.messages_to(chat, timeout_s=3) == []


def test_commands_reach_the_bots_own_paths_and_other_slashes_are_text(bot, telegram_api, texts):
    chat = new_chat()
    say_telegram(bot, chat, "/start KE_sw")  # the deep link: Kenya, in Swahili
    greeting = [r["text"] for r in telegram_api.messages_to(chat, count=5)]
    assert greeting[:2] == [texts.get("privacy_notice", "sw", days=30), texts.get("greet", "sw")]
    assert greeting[-1].startswith(texts.get("menu_prompt", "sw") + "\n1. ")
    say_telegram(bot, chat, "/helpline")
    helpline_said = [r["text"] for r in telegram_api.messages_to(chat, count=len(greeting) + 1)][len(greeting) :]
    assert len(helpline_said) == 1 and gives(helpline_said[0], helpline_number("KE")), helpline_said
    assert helpline("KE").name in helpline_said[0]
    before = len(greeting) + 1
    say_telegram(bot, chat, "/restart")  # Rasa's own command: here only text
    after = [r["text"] for r in telegram_api.messages_to(chat, count=before + 1)][before:]
    # Answered as words in the same conversation: still in Swahili, and no first-contact notice again,
    # which a restart (every slot wiped) would bring.
    assert after and texts.get("privacy_notice", "sw", days=30) not in after, after
    assert after[-1].startswith(texts.get("menu_prompt", "sw") + "\n1. "), after


def test_a_burst_of_five_messages_is_answered_in_order(bot, telegram_api):
    chat = new_chat()
    texts = [
        "hello",
        "how do i stay safe online",
        "is my chat private",
        "i want to talk to a real person",
        "thank you bye",
    ]
    for text in texts:
        say_telegram(bot, chat, text)
    needs = ("greet", "safety_tips", "privacy_question", "talk_to_human", "thanks_bye")
    assert_in_order(lambda: [r["text"] for r in telegram_api.messages_to(chat, timeout_s=0.1)], needs)


def assert_in_order(said: Callable[[], list[str]], needs: tuple[str, ...], timeout_s: float = 60) -> None:
    """Each need's answer comes after the one before; "privacy_question" is the notice said again.
    ``said`` is what the child has been sent so far: read until the last need's answer is there."""
    texts = Dialogue.load().texts
    notice = texts.get("privacy_notice", "en", days=30)
    markers = [notice if need == "privacy_question" else texts.get(need, "en") for need in needs]
    deadline = time.monotonic() + timeout_s
    replies = said()
    while not any(markers[-1] in reply for reply in replies[1:]) and time.monotonic() < deadline:
        time.sleep(0.1)
        replies = said()
    assert replies and replies[0] == notice, replies  # said first on the first message...
    found = [[i for i, reply in enumerate(replies) if i > 0 and marker in reply] for marker in markers]
    assert all(found), (needs, replies)  # every need answered
    positions = [places[0] for places in found]
    assert positions == sorted(set(positions)), replies  # ...and again, in its place, when asked


# -- SMS and WhatsApp ----------------------------------------------------------------------------


def test_twilio_refuses_forged_and_missing_signatures(bot, twilio_api):
    phone = new_phone()
    assert post_twilio(bot, "sms", sms("help", phone), signature="bm90IGEgc2lnbmF0dXJl") == 403
    assert post_twilio(bot, "sms", sms("help", phone), signature=None) == 403
    signed_for_sms = sms("help", phone)
    url = f"{PUBLIC_URL}/webhooks/sms/webhook"
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(url, signed_for_sms)
    signed_for_sms["Body"] = "tampered"
    assert post_twilio(bot, "sms", signed_for_sms, signature=signature) == 403
    assert post_twilio(bot, "whatsapp", sms("help", phone), signature=signature) == 403
    time.sleep(1)
    assert twilio_api.messages_to(phone, timeout_s=0.1) == []


def test_twilio_refuses_a_signed_form_without_a_sender(bot):
    assert post_twilio(bot, "sms", {"MessageSid": "SM1", "Body": "hi"}) == 400


def test_sms_gets_the_helpline_of_the_senders_country_within_three_segments(bot, twilio_api, dialogue):
    phone = new_phone("+2547")  # Kenya
    assert post_twilio(bot, "sms", sms("nataka namba ya msaada tafadhali", phone)) == 200
    replies = twilio_api.messages_to(phone, count=3)
    answer = [reply for reply in replies if helpline("KE").name in reply]
    assert len(answer) == 1 and gives(answer[0], helpline_number("KE")), replies  # a number to call on SMS
    kenya = dialogue.countries.name("KE", dialogue.registry.languages["sw"].locale)
    assert dialogue.texts.get("country_assumed", "sw", country=kenya) in answer[0]  # and the country it assumed
    assert all(segments(reply).count <= 3 for reply in replies)


def test_an_sms_in_a_language_we_dont_fully_speak_gets_the_numbers_in_it(bot, twilio_api, texts):
    """Czech from a Czech number: the numbers-first tier, through Rasa and the action server."""
    phone = new_phone("+420601")
    assert post_twilio(bot, "sms", sms("ahoj, potřebuju si s někým promluvit", phone)) == 200
    said = "\n".join(twilio_api.messages_to(phone, count=5, timeout_s=8))
    assert texts.get("numbers_intro", "cs") in said
    assert helpline("CZ").name in said and gives(said, helpline_number("CZ")), said
    assert texts.get("emergency_known", "cs", emergency=emergency("CZ")) in said


def test_a_retried_sms_is_answered_once(bot, twilio_api, texts):
    phone = new_phone("+2557")  # Tanzania
    form = sms("asante sana kwaheri", phone)
    assert [post_twilio(bot, "sms", form) for _ in range(3)] == [200, 200, 200]
    said = twilio_api.messages_to(phone, count=9, timeout_s=8)
    # One turn's reply, once: the notice, the goodbye, and the numbers of a first contact.
    assert len(said) == 4, said
    assert said[:2] == [texts.get("privacy_notice", "sw", days=30), texts.get("thanks_bye", "sw")]
    assert helpline("TZ").name in said[2] and gives(said[2], helpline_number("TZ")), said
    assert said[3] == texts.get("emergency_known", "sw", emergency=emergency("TZ"))


def test_a_burst_of_sms_is_answered_in_order(bot, twilio_api):
    phone = new_phone("+4474")
    texts = ["hello", "how do i stay safe online", "is my chat private", "thank you bye"]
    for text in texts:
        post_twilio(bot, "sms", sms(text, phone))
    needs = ("greet", "safety_tips", "privacy_question", "thanks_bye")
    assert_in_order(lambda: twilio_api.messages_to(phone, timeout_s=0.1), needs)


def test_whatsapp_media_is_never_downloaded_and_gets_a_kind_reply(bot, twilio_api, texts):
    phone = new_phone("+5511")
    media = f"{twilio_api.url}/media/secret-picture.jpg"
    form = sms("", phone, to="whatsapp:+14155238886", NumMedia="1", MediaUrl0=media, MediaContentType0="image/jpeg")
    form["From"] = "whatsapp:" + phone
    assert post_twilio(bot, "whatsapp", form) == 200
    replies = twilio_api.messages_to("whatsapp:" + phone, count=3)
    assert len(replies) == 3, replies
    assert replies[0] == texts.get("only_words", "pt")  # in Portuguese: the number is Brazilian
    # Nothing written to go on: the numbers too, the helpline's WhatsApp on WhatsApp, and Brazil's police.
    assert helpline("BR").name in replies[1] and gives(replies[1], number("BR", "whatsapp").e164), replies
    assert replies[2] == texts.get("emergency_known", "pt", emergency=emergency("BR"))
    assert not twilio_api.sent(lambda path, params: "secret-picture" in path)


def test_whatsapp_reporting_abuse_images_points_to_the_hotline(bot, twilio_api, texts):
    phone = new_phone("+5511")
    form = sms("encontrei fotos de abuso de criança num site, como denuncio", phone, to="whatsapp:+14155238886")
    form["From"] = "whatsapp:" + phone
    post_twilio(bot, "whatsapp", form)
    hotline = country_entry("BR").hotline  # Brazil's reporting hotline (SaferNet), from the routing table
    expected = texts.get("hotline", "pt", name=hotline.name, url=hotline.report_url)
    replies = twilio_api.messages_to("whatsapp:" + phone, count=5)
    assert expected in replies, replies


# -- never silent -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broken_bots(model, tmp_path_factory, telegram_api, twilio_api) -> Iterator[dict[str, RunningBot]]:
    """Bots broken on purpose: no action server; a Rasa core that raises on every message; one
    that takes 30 s (both through a lock store made to fail, tests/broken_rasa.py)."""
    credentials = channel_credentials(telegram_api, twilio_api, timeout_s=3)
    # Their own Redis keys, under this run's prefix (removed with it): no sharing of work with `bot`.
    env = {
        **CHANNEL_ENV,
        "PYTHONPATH": str(PROJECT_ROOT),
        "HELPLINE_REDIS_PREFIX": CHANNEL_ENV["HELPLINE_REDIS_PREFIX"] + "broken:",
    }
    store = "lock_store:\n  type: tests.broken_rasa.{}\n"
    with (
        running_bot(tmp_path_factory.mktemp("no-actions"), model, credentials, env, with_actions=False) as no_actions,
        running_bot(
            tmp_path_factory.mktemp("raises"), model, credentials, env, endpoints_extra=store.format("RaisingLockStore")
        ) as raising,
        running_bot(
            tmp_path_factory.mktemp("slow"), model, credentials, env, endpoints_extra=store.format("SlowLockStore")
        ) as slow,
    ):
        yield {"no_actions": no_actions, "rasa_raises": raising, "rasa_too_slow": slow}


@pytest.mark.parametrize("broken", ["no_actions", "rasa_raises", "rasa_too_slow"])
def test_when_rasa_fails_the_child_still_gets_the_helpline_and_emergency_number(
    broken_bots, twilio_api, telegram_api, texts, broken
):
    bot = broken_bots[broken]
    phone = new_phone("+2547")  # Kenya
    post_twilio(bot, "sms", sms("nisaidie tafadhali", phone))
    text = " ".join(twilio_api.messages_to(phone, count=3))
    assert gives(text, helpline_number("KE")) and gives(text, emergency("KE")), text
    chat = new_chat()
    say_telegram(bot, chat, "aidez moi", language="fr")
    replies = [r["text"] for r in telegram_api.messages_to(chat, count=2)]
    # French, from the language hint; Telegram tells no country: "appelle le numéro d'urgence de ton pays".
    assert replies == [texts.get("fallback_intro", "fr"), texts.get("emergency_unknown", "fr")]
    status, body = http(
        "POST",
        bot.webhook("rest"),
        json.dumps({"sender": f"rest-{new_chat()}", "message": "ayuda", "metadata": {"country": "ES"}}).encode(),
    )
    said = " ".join(m["text"] for m in json.loads(body))
    assert status == 200  # Spain's emergency number and its helpline (ANAR)
    assert gives(said, emergency("ES")) and gives(said, helpline_number("ES")), said


def test_no_address_or_text_in_the_info_log(bot, broken_bots):
    for running in (bot, *broken_bots.values()):
        log = running.log.read_text(encoding="utf-8", errors="replace")
        assert " INFO " in log  # the server logs at INFO, its default level
        # Chat ids, phone numbers (also without "+") and whole messages; short words like "help" and
        # commands like "/helpline" would match the model's file name.
        distinctive = [value for value in SEEN if len(value) >= 8 and not value.startswith("/")]  # not commands
        distinctive += [value.lstrip("+") for value in SEEN if value.startswith("+")]
        leaked = [value for value in distinctive if value in log]
        assert not leaked, (running.log, leaked)
