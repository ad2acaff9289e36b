"""Make this checkout importable as ``ansible_collections.lvs.cluster``.

The repository root is the collection root, so unit tests see it through a symlink
``.build/collections/ansible_collections/lvs/cluster`` that points back here.
"""
import os
import sys

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS_DIR = os.path.join(REPO_ROOT, ".build", "collections")
LINK = os.path.join(COLLECTIONS_DIR, "ansible_collections", "lvs", "cluster")

if not os.path.islink(LINK):
    os.makedirs(os.path.dirname(LINK), exist_ok=True)
    os.symlink(REPO_ROOT, LINK)
if COLLECTIONS_DIR not in sys.path:
    sys.path.insert(0, COLLECTIONS_DIR)
