"""
The buses that carry invalidations between server processes, behind one `Bus` protocol
(`base`): Redis pub/sub (`redis`), PostgreSQL LISTEN/NOTIFY (`postgres`), a shared
memory-mapped word beside an SQLite file (`sqlite`). A bus never touches a cache.
"""

from .base import Bus, BusError, OnChange, OnReset, PushBus
from .postgres import PostgresBus
from .redis import RedisBus
from .sqlite import FileBus

__all__ = ["Bus", "BusError", "FileBus", "OnChange", "OnReset", "PostgresBus", "PushBus", "RedisBus"]
