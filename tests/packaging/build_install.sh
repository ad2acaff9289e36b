#!/usr/bin/env bash
# The collection builds into a tarball without the repo's tooling, installs into a fresh path, and a playbook
# runs lvs.cluster modules from that installed copy (not from this checkout).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

ansible-galaxy collection build --output-path "$WORK" "$ROOT" >/dev/null
TARBALL=$(ls "$WORK"/lvs-cluster-*.tar.gz)
echo "built $(basename "$TARBALL") ($(du -h "$TARBALL" | cut -f1))"

tar -tzf "$TARBALL" > "$WORK/listing"
# Nothing of the lab, the tests or the local environment may travel in the tarball.
if grep -E '^(lab|tests|scripts|extensions/molecule|requirements|inventories|benchmarks|\.venv[^/]*|\.build|\.lab|\.ci|\.config)/' "$WORK/listing"; then
  echo "FAIL: the tarball carries repo-only files (above)" >&2
  exit 1
fi
for required in MANIFEST.json meta/runtime.yml plugins/modules/ipvs_table.py \
    plugins/module_utils/_ipvs_model.py README.md; do
  grep -qx "$required" "$WORK/listing" || { echo "FAIL: $required missing from the tarball" >&2; exit 1; }
done

# Only the fresh path counts: this checkout (on the dev collections path) must not satisfy the install.
export ANSIBLE_COLLECTIONS_PATH="$WORK/installed"
touch "$WORK/ansible.cfg"
export ANSIBLE_CONFIG="$WORK/ansible.cfg"
ansible-galaxy collection install --no-deps -p "$WORK/installed" "$TARBALL" >/dev/null
INSTALLED="$WORK/installed/ansible_collections/lvs/cluster"
[ -f "$INSTALLED/MANIFEST.json" ] || { echo "FAIL: install did not produce $INSTALLED" >&2; exit 1; }

# The execution environment: ansible-builder's introspection of the installed collection (what an EE build runs)
# finds the Python requirements meta/execution-environment.yml declares, and the example EE definition makes a
# build context (no container engine needed) that installs the collection from awx/requirements.yml.
ansible-builder introspect --sanitize "$WORK/installed" > "$WORK/introspect.yml"
while read -r requirement; do
  name=${requirement%%[<>=!~ #]*}
  grep -q "^- '$name.*# from collection lvs.cluster'$" "$WORK/introspect.yml" || {
    echo "FAIL: ansible-builder introspect does not list $name of meta/ee-requirements.txt" >&2
    cat "$WORK/introspect.yml" >&2; exit 1; }
done < <(grep -v '^#' "$INSTALLED/meta/ee-requirements.txt" | grep .)
ansible-builder create -f "$ROOT/awx/execution-environment.yml" --context "$WORK/ee-context" > /dev/null
grep -q "lvs-cluster/lvs.cluster" "$WORK/ee-context/_build/requirements.yml" || {
  echo "FAIL: the EE build context does not install lvs.cluster" >&2; exit 1; }
grep -q "introspect" "$WORK/ee-context/Dockerfile" || {
  echo "FAIL: the EE build context does not introspect the collections' requirements" >&2; exit 1; }
echo "execution environment: introspection lists $(grep -c 'from collection lvs.cluster' "$WORK/introspect.yml") requirement(s); build context created"

# Use the installed copy only: no checkout on the collections path, and run from an empty directory.
cd "$WORK"
for module in $(ls "$INSTALLED/plugins/modules" | sed -n 's/\.py$//p'); do
  ansible-doc -t module "lvs.cluster.$module" > "$WORK/doc.txt"
  grep -q "lvs.cluster.$module" "$WORK/doc.txt" || { echo "FAIL: ansible-doc lvs.cluster.$module" >&2; exit 1; }
done

# This machine has no IPVS, so the module run proves loading and validation from the installed copy: bad input
# must fail with a message naming the option and the value, from lvs.cluster's own module_utils.
cat > "$WORK/use.yml" <<'YAML'
- name: Use lvs.cluster from an installed copy
  hosts: localhost
  gather_facts: false
  tasks:
    - name: Bad input is refused by the installed module
      lvs.cluster.ipvs_table:
        services:
          - address: 192.0.2.10
            port: 70000
      register: result
      ignore_errors: true

    - name: The installed module answered with a validation error
      ansible.builtin.assert:
        that:
          - result is failed
          - "'port' in result.msg and '70000' in result.msg"
        fail_msg: "{{ result | to_json }}"
YAML
ansible-playbook -i localhost, -c local -e ansible_python_interpreter="$(command -v python3)" "$WORK/use.yml" > "$WORK/use.log" || { cat "$WORK/use.log"; exit 1; }
tail -3 "$WORK/use.log"
echo "packaging: build, install and use from the installed copy passed"
