"""Lab hosts only: a bytecode cache for what Ansible modules import from their AnsiballZ zip.

Python compiles every module it imports from a zip on every run (zipimport writes no .pyc). Under the lab's emulated
CPU that is more than a second of each Ansible task (ansible.module_utils.basic and its imports). The same source
compiles to the same code, so the code is kept in CACHE_DIR, keyed by the source's hash and the interpreter, and
only its file name is set to the current payload's. Any failure falls back to compiling. Installed only in the lab
image (a .pth file imports it); nothing of the product depends on it.
"""
import hashlib
import marshal
import os
import sys
import zipimport

CACHE_DIR = "/var/cache/lvs-lab-pycode"
_compile_source = getattr(zipimport, "_compile_source", None)


def _with_filename(code, filename):
    consts = tuple(_with_filename(const, filename) if isinstance(const, type(code)) else const
                   for const in code.co_consts)
    return code.replace(co_filename=filename, co_consts=consts)


def _cached_compile_source(pathname, source):
    if "_payload.zip" not in pathname or not os.path.isdir(CACHE_DIR):
        return _compile_source(pathname, source)
    key = hashlib.sha256(source).hexdigest()
    path = os.path.join(CACHE_DIR, "%s.%s" % (key, sys.implementation.cache_tag))
    try:
        with open(path, "rb") as handle:
            return _with_filename(marshal.load(handle), pathname)
    except Exception:  # not cached yet, or unreadable: compile
        pass
    code = _compile_source(pathname, source)
    temporary = "%s.%d.tmp" % (path, os.getpid())
    try:
        with open(temporary, "wb") as handle:
            marshal.dump(code, handle)
        os.replace(temporary, path)  # atomic: lab hosts share the directory
    except Exception:
        pass
    return code


if _compile_source is not None:
    zipimport._compile_source = _cached_compile_source
