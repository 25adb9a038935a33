"""Import every `models` module under core/ and skills/ so that Base.metadata knows every table.

Skills keep their tables in `skills/<name>/models.py` (or `core/<service>/models.py`) and their migration in
`core/store/migrations/versions/`, branching from the foundation revision; nothing here needs editing."""
import importlib
import pkgutil

import core
import skills

for _pkg in (core, skills):
    for _mod in pkgutil.walk_packages(_pkg.__path__, _pkg.__name__ + "."):
        if _mod.name.rsplit(".", 1)[-1] == "models":
            importlib.import_module(_mod.name)
