#!/usr/bin/env bash
# ansible-test sanity needs the collection at .../ansible_collections/lvs/cluster: copy the files git would
# ship (tracked and untracked-but-not-ignored) there, and run it with the sanity venv (no Docker here).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# Outside the checkout: inside it, git would report the copy as ignored and ansible-test would skip it all.
DEST="${TMPDIR:-/tmp}/lvs-cluster-sanity/ansible_collections/lvs/cluster"
rm -rf "$DEST"
mkdir -p "$DEST"
(cd "$ROOT" && git ls-files -co --exclude-standard -z | rsync -a --from0 --files-from=- ./ "$DEST/")
cd "$DEST"
git init -q && git add -A && git -c user.name=sanity -c user.email=sanity@localhost commit -qm sanity
# ansible-test bootstraps pip in each per-test venv with a script it downloads; give it ours (see the shim).
PIP_VERSION=$("$ROOT/.venv-sanity/bin/python" -c 'import re, ansible_test._internal.python_requirements as r, inspect; print(re.search(r"pip=.([0-9.]+).", inspect.getsource(r)).group(1))')
mkdir -p "$HOME/.ansible/test/cache"
cp "$ROOT/tests/sanity/get_pip_shim.py" "$HOME/.ansible/test/cache/get_pip_${PIP_VERSION//./_}.py"
# --local: the sanity tools come from .venv-sanity (scripts/bootstrap installs ansible-test's own pins there).
exec "$ROOT/.venv-sanity/bin/ansible-test" sanity --local --python 3.11 --color no "$@"
