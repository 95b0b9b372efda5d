#!/usr/bin/env bash
# Create benchmarks/.venv: torch (pinned like the Makefile), paperlib from this
# checkout (editable), and the peers of requirements.txt. Idempotent.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(dirname "$here")"
py="${PYTHON:-$(command -v python3.11 || command -v python3)}"
venv="$here/.venv"
[ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
"$venv/bin/python" -m pip install -q --upgrade pip
"$venv/bin/python" -m pip install -q torch==2.13.0
"$venv/bin/python" -m pip install -q -e "$repo"
"$venv/bin/python" -m pip install -q -r "$here/requirements.txt"
"$venv/bin/python" -c "from importlib.metadata import version as v; import inseq, captum, paperlib; print('benchmark env ready: inseq', v('inseq'), 'captum', v('captum'), 'torch', v('torch'), 'transformers', v('transformers'))"
