"""
The import paths of modules that moved when the package was redrawn, kept working without a
file at the old place: `import authgate.identity` gives the very module
`authgate.account.identity` (the same object, so a monkeypatch through either name patches
both). Installed by `authgate/__init__.py`; nothing is imported before it is asked for.
"""

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType

# old dotted name -> new dotted name
MOVED: dict[str, str] = {
    "authgate.authentication": "authgate.api.authentication",
    "authgate.cookies": "authgate.api.cookies",
    "authgate.oauth": "authgate.api.oauth",
    "authgate.openapi": "authgate.api.schema",
    "authgate.serializers": "authgate.api.serializers",
    "authgate.urls": "authgate.api.urls",
    "authgate.views": "authgate.api.views",
    "authgate.mfa.events": "authgate.factors.events",
    "authgate.mfa.gate": "authgate.factors.gate",
    "authgate.mfa.pending": "authgate.factors.pending",
    "authgate.mfa.reauth": "authgate.factors.reauth",
    "authgate.mfa.views": "authgate.api.views.mfa",
    "authgate.mfa.webauthn.views": "authgate.api.views.webauthn",
}


class _Alias(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target
        self.own_spec: importlib.machinery.ModuleSpec | None = None

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self.own_spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # Already executed under its new name; importlib has just set `__spec__` to the
        # alias's: give the module its own back (the autoreloader reads its origin).
        module.__spec__ = self.own_spec


class _MovedModules(importlib.abc.MetaPathFinder):
    def find_spec(
        self, fullname: str, path: object = None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(fullname)
        if new is None:
            return None
        return importlib.machinery.ModuleSpec(fullname, _Alias(new))


def install() -> None:
    if not any(isinstance(finder, _MovedModules) for finder in sys.meta_path):
        sys.meta_path.insert(0, _MovedModules())
