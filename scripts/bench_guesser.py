"""One password guesser for scripts/bench_console.py, in a process of its own (standard library only, so
it starts at once): reads its port and guesses as one line of JSON on standard input, sends them one
after another (each answer awaited), and prints the statuses as one line of JSON.

    echo '{"port": 5080, "guesses": [["amina", "198.51.100.1"]]}' | python -m scripts.bench_guesser
"""

from __future__ import annotations

import http.client
import json
import os
import sys


def main() -> int:
    order = json.loads(sys.stdin.readline())  # blocks until the benchmark says go
    connection = http.client.HTTPConnection("127.0.0.1", order["port"], timeout=60)
    statuses = []
    for n, (username, address) in enumerate(order["guesses"]):
        headers = {"Content-Type": "application/json", **({"X-Forwarded-For": address} if address else {})}
        body = json.dumps({"username": username, "password": f"guess {os.getpid()} {n}"})
        connection.request("POST", "/api/login", body, headers)
        answer = connection.getresponse()
        answer.read()
        statuses.append(answer.status)
    print(json.dumps(statuses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
