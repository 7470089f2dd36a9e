"""authgate: JWT authentication for Django REST Framework in which logout really logs out."""

__version__ = "0.1.0"
