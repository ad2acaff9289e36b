# Sourced by the project's scripts: the venv on PATH and Ansible pointed at this checkout as lvs.cluster.
ROOT=${ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
export PATH="$ROOT/.venv/bin:$PATH"
export ANSIBLE_CONFIG="$ROOT/ansible.cfg"
export ANSIBLE_COLLECTIONS_PATH="$ROOT/.build/collections"
# The default lab (lab/lvs-lab without --lab) keeps its state, inventory and ssh config here.
LAB_STATE="$ROOT/.lab/default"
