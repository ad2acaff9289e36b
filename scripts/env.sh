# Sourced by the project's scripts: the venv on PATH and Ansible pointed at this checkout as lvs.cluster.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
export LVS_LAB_DIR="${LVS_LAB_DIR:-$ROOT/.lab}"
