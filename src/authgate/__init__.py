"""authgate: JWT authentication for Django REST Framework in which logout really logs out."""

from . import _moved

__version__ = "0.1.0"

_moved.install()
