#!/usr/bin/env bash
# Train the model only when what Rasa reads (config, domain, NLU data, rules) has changed.
# The fingerprint of those files is kept next to the model.
set -euo pipefail
cd "$(dirname "$0")/.."

model=models/helpline.tar.gz
stamp=models/helpline.fingerprint
fingerprint=$(cat config.yml domain.yml data/rules.yml $(find data/nlu -name '*.yml' | sort) | sha256sum | cut -d' ' -f1)

if [ -f "$model" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$fingerprint" ]; then
  echo "Model is up to date ($model)."
  exit 0
fi
echo "Training the model (config, domain or data changed)..."
start=$(date +%s)
.venv/bin/rasa train --config config.yml --domain domain.yml --data data/nlu data/rules.yml \
  --out models --fixed-model-name helpline --quiet
echo "$fingerprint" > "$stamp"
echo "Trained in $(( $(date +%s) - start )) s."
