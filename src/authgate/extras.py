"""
Optional extras: which `pip install 'authgate[...]'` brings which module, and how to say so.
A leaf module (it imports nothing of authgate), so any layer may ask it for a hint.
"""

from importlib import import_module

# extra name -> the modules it brings
EXTRAS = {"redis": "redis", "openapi": "drf_spectacular"}


def install_hint(extra: str) -> str:
    return f"pip install 'authgate[{extra}]'"


def is_installed(module: str) -> bool:
    try:  # only asked when a setting needs the module, which is then imported anyway
        import_module(module)
    except ImportError:
        return False
    return True
