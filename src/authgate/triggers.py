"""The deactivation trigger now lives with the rest of the database-side invalidation, in
`authgate.revocation.triggers`; this module keeps the old import path working."""

from .revocation.triggers import (
    DEACTIVATION as NAME,
    DEACTIVATION_STATEMENTS as STATEMENTS,
    install,
    install_after_migrate,
    supported,
)

__all__ = ["NAME", "STATEMENTS", "install", "install_after_migrate", "supported"]
