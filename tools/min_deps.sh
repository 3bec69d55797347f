#!/usr/bin/env bash
# Install the lowest version of every dependency that pyproject.toml allows (each ">=X" taken as
# "==X", the test tools too) into .venv-min and run the test suite there, so the minimums
# pyproject promises are known to work. Used by `CNNSPEC_MIN_DEPS=1 .ci/run`.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
venv=.venv-min
minimums=$(mktemp)
trap 'rm -f "$minimums"' EXIT
"$python" - > "$minimums" <<'PY'
import re
import tomllib

project = tomllib.load(open("pyproject.toml", "rb"))["project"]
requirements = project["dependencies"] + project["optional-dependencies"]["test"]
for requirement in requirements:
    name, low = re.fullmatch(r"([A-Za-z0-9_.-]+)>=([0-9][^,;\s]*)", requirement).groups()
    print(f"{name}=={low}")
PY
echo "minimum versions:" $(cat "$minimums")
"$python" -m venv "$venv"
# No PIP_CONSTRAINT here: the minimums are the constraints (the build backend's range is
# pyproject's own).
env -u PIP_CONSTRAINT "$venv/bin/pip" install --quiet --disable-pip-version-check \
    -c "$minimums" -e '.[test]'
"$venv/bin/pip" list --disable-pip-version-check 2>/dev/null | grep -i -E \
    "^(numpy|scipy|matplotlib|pillow|lark|jsonschema|graphviz|tqdm|threadpoolctl|pytest) "
"$venv/bin/python" -m pytest -q "$@"
