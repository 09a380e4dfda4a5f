"""Talking to the console's API as a counsellor's page does: a session cookie, the CSRF token."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from email.message import Message
from http.cookies import SimpleCookie
from typing import Any, Optional

PASSWORD = "correct horse battery staple"


class Counsellor:
    def __init__(self, base: str, username: str) -> None:
        self.base, self.username = base, username
        self.cookie: Optional[str] = None
        self.csrf = ""

    def login(self, password: str = PASSWORD, address: Optional[str] = None) -> int:
        return self.login_answer(password, address)[0]

    def login_answer(self, password: str = PASSWORD, address: Optional[str] = None) -> tuple[int, Any, Message]:
        """Status, body and headers; ``address``: the client address a trusted proxy would forward."""
        headers = {"X-Forwarded-For": address} if address else {}
        status, raw, answer_headers = _call(
            "POST", f"{self.base}/api/login", {"username": self.username, "password": password}, headers
        )
        if status == 200:
            self.cookie = SimpleCookie(answer_headers.get("Set-Cookie", "")).get("helpline_session").value
            self.csrf = json.loads(raw)["csrf"]
        return status, json.loads(raw), answer_headers

    def get(self, path: str) -> tuple[int, Any]:
        status, raw, _ = _call("GET", self.base + path, None, self._headers(csrf=False))
        return status, json.loads(raw)

    def post(self, path: str, data: Optional[dict] = None, csrf: bool = True) -> tuple[int, Any]:
        status, raw, _ = _call("POST", self.base + path, data or {}, self._headers(csrf))
        return status, json.loads(raw)

    def waiting_with(self, text: str) -> list[dict[str, Any]]:
        """The waiting tickets whose last messages hold ``text``."""
        return [t for t in self.get("/api/queue")[1]["waiting"] if text in t["last_messages"]]

    def _headers(self, csrf: bool) -> dict[str, str]:
        headers = {"Cookie": f"helpline_session={self.cookie}"} if self.cookie else {}
        if csrf:
            headers["X-CSRF-Token"] = self.csrf
        return headers


def _call(method: str, url: str, data: Optional[dict], headers: Optional[dict] = None) -> tuple[int, bytes, Message]:
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        url, data=body, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read(), answer.headers  # names case-insensitive: HAProxy lowercases them
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers
