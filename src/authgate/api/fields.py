"""
Serializer fields of the API's own.

`TokenField`: a token in a request body. It answers exactly as DRF's `CharField` (the same
validators, the same messages), but its check for lone surrogates skips strings that are
ASCII, which cannot hold one: DRF's check steps through the string in Python, one step per
character, which on a refresh token was a tenth of a refresh's Python work.
"""

from typing import Any

from rest_framework import serializers
from rest_framework.validators import ProhibitSurrogateCharactersValidator


class _NoSurrogates(ProhibitSurrogateCharactersValidator):
    """DRF's check, skipping its Python step per character on ASCII (no surrogate there)."""

    def __call__(self, value: Any) -> None:
        if not (isinstance(value, str) and value.isascii()):
            super().__call__(value)


class TokenField(serializers.CharField):
    """A token in a body (the surrogate loop was a tenth of a refresh's Python work)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.validators = [
            _NoSurrogates() if type(v) is ProhibitSurrogateCharactersValidator else v for v in self.validators
        ]
