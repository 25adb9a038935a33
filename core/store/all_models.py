"""Import every `models` module under core/ so that Base.metadata knows the shared tables.

Skills keep their tables in `skills/<name>/models.py` and their migration in `core/store/migrations/versions/`,
branching from the foundation revision. core/ never imports skills/: the tool that autogenerates a migration
(`python -m bot new-migration`) imports the skills' models before it diffs."""
import importlib
import pkgutil

import core

for _mod in pkgutil.walk_packages(core.__path__, core.__name__ + "."):
    if _mod.name.rsplit(".", 1)[-1] == "models":
        importlib.import_module(_mod.name)
