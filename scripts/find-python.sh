#!/usr/bin/env bash
# Print the path of a Python 3.10 interpreter (Rasa 3.6 needs 3.10 exactly), or say how to get one.
set -euo pipefail

is_310() { "$1" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 10) else 1)' 2>/dev/null; }

candidates=()
[ -n "${PYTHON:-}" ] && candidates+=("$PYTHON")
candidates+=(python3.10)
if command -v pyenv >/dev/null 2>&1; then
  root=$(pyenv root)
  for dir in "$root"/versions/3.10.*; do
    [ -x "$dir/bin/python" ] && candidates+=("$dir/bin/python")
  done
fi
if command -v uv >/dev/null 2>&1; then
  found=$(uv python find 3.10 2>/dev/null || true)
  [ -n "$found" ] && candidates+=("$found")
fi
candidates+=(python3 python)

for candidate in "${candidates[@]}"; do
  path=$(command -v "$candidate" 2>/dev/null || true)
  if [ -n "$path" ] && is_310 "$path"; then
    echo "$path"
    exit 0
  fi
done

cat >&2 <<'MSG'
No Python 3.10 found. Rasa 3.6 needs Python 3.10 exactly (3.11 and newer will not install it).
Get one in any of these ways, then run the command again:
  - Debian/Ubuntu:  sudo apt install python3.10 python3.10-venv   (Ubuntu: add the deadsnakes PPA first)
  - pyenv:          pyenv install 3.10
  - uv:             uv python install 3.10
  - or point to one: PYTHON=/path/to/python3.10 make run
MSG
exit 1
