# Helpline Connector. `make run` starts the bot; `make test` runs every test.
SHELL := /bin/bash
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: run shell test test-fast test-fuzz test-faults test-cluster lint format lock model validate bench bench-table bench-nlu bench-server bench-channels bench-handoff bench-web bench-console bench-long bench-cluster bench-parts eval-crisis bench-languages eval-languages texts-export texts-import clean

run: $(STAMP) model
	scripts/run.sh run

shell: $(STAMP) model
	scripts/run.sh shell

# Most tests in two processes (their servers mostly wait on each other), each module's tests in one
# of them; then, alone on the machine, the cluster and fault suites, whose timings are what they test.
test: $(STAMP) model validate lint
	$(VENV)/bin/python -m pytest -q -n 2 --dist loadscope -m "not cluster and not faults" --durations=15
	$(VENV)/bin/python -m pytest -q -m "cluster or faults" --durations=5

# Every row of issue 15's fault table, with figures printed: Redis refused and frozen, the action
# server killed, a Rasa server stopped or killed mid-burst (a private redis-server), a channel's API
# down while counsellors write, a counsellor acting beyond their role, password guessing, client-chosen
# web chat tokens, and the fuzzing of every endpoint. `make test` runs all of it too.
FAULT_TESTS := tests/test_faults.py tests/test_outbox_flow.py tests/test_console_roles.py tests/test_logins.py \
  tests/test_chat_tokens.py tests/test_fuzz.py
test-faults: $(STAMP) model
	$(VENV)/bin/python -m pytest -q -s $(FAULT_TESTS)

# The bot as a cluster (issue 16): HAProxy round-robin over 3 Rasa servers, 2 action servers and
# 2 consoles on a private redis-server; order, loss and duplicates of children's messages and of
# counsellors' replies while servers are killed, stopped and restarted, with figures printed.
test-cluster: $(STAMP) model
	$(VENV)/bin/python -m pytest -q -s -m cluster tests/test_cluster.py

# The tests that need neither a trained model nor servers of ours (Redis still): under 2 minutes.
test-fast: $(STAMP)
	$(VENV)/bin/python -m pytest -q -m "not rasa and not servers"

# Over 10,000 malformed requests to every endpoint of the running bot and console: no 5xx (a few minutes).
test-fuzz: $(STAMP) model
	$(VENV)/bin/python -m pytest -q -m fuzz

# The texts children read, as one gettext PO file per language for translators (review states as
# "fuzzy" flags and comments), and back: `make texts-export`, edit, `make texts-import` (README, "Translations").
TRANSLATIONS ?= translations
texts-export: $(STAMP)
	$(VENV)/bin/python -m scripts.translations export $(TRANSLATIONS)

texts-import: $(STAMP)
	$(VENV)/bin/python -m scripts.translations import $(TRANSLATIONS)

# ruff (lint and format) and mypy (strict on bot/, checked on channels/ and actions/).
lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

format: $(STAMP)
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# constraints.txt from pyproject.toml, keeping today's versions unless asked: `make lock UPGRADE=1`.
# No hashes: pip refuses hash-checking with an editable install of the project itself.
TOOLS := .tools
lock: $(TOOLS)/bin/uv
	$(TOOLS)/bin/uv pip compile pyproject.toml --extra test --python-version 3.10 --no-annotate \
	  --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade) -o constraints.txt

$(TOOLS)/bin/uv:
	python3 -m venv $(TOOLS) && $(TOOLS)/bin/pip install --quiet uv==0.9.5

# The routing table, checked as the bot checks it at start-up.
validate: $(STAMP)
	$(VENV)/bin/python -m bot.routing validate

model: $(STAMP)
	scripts/train.sh

bench: bench-table bench-nlu bench-server bench-channels bench-handoff bench-web bench-console bench-long bench-cluster bench-parts

bench-table: $(STAMP)
	$(VENV)/bin/python -m scripts.bench_table

bench-nlu: $(STAMP)
	$(VENV)/bin/python -m scripts.bench_nlu

bench-server: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_server

bench-channels: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_channels

bench-handoff: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_handoff

bench-web: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_web

# Our bot behind HAProxy with 1, 2 and 3 Rasa servers beside stock Rasa 3.6.21 the same way; crisis to console.
bench-cluster: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_cluster

# Password guessers against the console: how many guesses are checked, and the console's p99 for everyone else.
bench-console: $(STAMP)
	$(VENV)/bin/python -m scripts.bench_console

# One conversation of 400 messages on Redis: the time a message takes at its start and at its end, and its stored size.
bench-long: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_long

# Every full language in one model: training from scratch, the servers' memory, reply p50/p99 one at a time.
bench-languages: $(STAMP)
	$(VENV)/bin/python -m scripts.bench_languages

bench-parts: $(STAMP) model
	$(VENV)/bin/python -m scripts.bench_parts

# Does every child get the number they need? A blind set of conversations, by kind and language.
SET ?= tests/blind/last
eval-crisis: $(STAMP) model
	$(VENV)/bin/python -m scripts.eval_crisis $(SET)

# Language ID, numbers and reply language on a blind set of many languages (tests/blind/README.md).
eval-languages: $(STAMP) model
	$(VENV)/bin/python -m scripts.eval_languages $(SET)

# A virtualenv from Python 3.10 with the pinned dependencies; redone when the pins change.
$(STAMP): pyproject.toml constraints.txt
	@python=$$(scripts/find-python.sh) && \
	  { [ -x $(VENV)/bin/python ] && $(VENV)/bin/python -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' \
	    || { rm -rf $(VENV) && "$$python" -m venv $(VENV); }; }
	$(VENV)/bin/python -m pip install --quiet -c constraints.txt -e ".[test]"
	touch $(STAMP)

clean:
	rm -rf models .rasa $(VENV) $(TOOLS)
