"""
Type names the package's annotations share; nothing here runs.

`User` is the project's user model (AUTH_USER_MODEL) as a type checker with the
django-stubs plugin resolves it from the settings. At run time it is a bare stand-in:
annotations are not evaluated, and the model class exists only once the apps are loaded.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.models import _User as User
else:
    User = object

__all__ = ["User"]
