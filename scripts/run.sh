#!/usr/bin/env bash
# Start the action server and the Rasa server (web chat and rest channel on 127.0.0.1:5005); Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-run}

.venv/bin/rasa run actions --actions actions --port 5055 &
actions_pid=$!
trap 'kill $actions_pid 2>/dev/null || true' EXIT INT TERM

mkdir -p .rasa
.venv/bin/python -m channels.active_credentials credentials.yml > .rasa/credentials.active.yml

if [ "$mode" = shell ]; then
  .venv/bin/rasa shell --model models/helpline.tar.gz --endpoints endpoints.yml
else
  echo "Chat with the bot at http://127.0.0.1:5005/webhooks/web/chat (API: /webhooks/rest/webhook)"
  .venv/bin/rasa run --model models/helpline.tar.gz --credentials .rasa/credentials.active.yml \
    --endpoints endpoints.yml --interface 127.0.0.1 --port 5005
fi
