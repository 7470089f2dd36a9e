"""
HTTP-level hardening that is not about one view: response headers and JSON parsing.

- `NoStoreMiddleware` (add to MIDDLEWARE): answers of the API carry tokens, session lists
  and account data, so no browser or proxy cache may keep them (RFC 6749 §5.1 asks this of
  token responses). It marks every JSON response that did not choose its own caching
  (`Cache-Control: no-store`); a view that wants caching — the JWKS document — sets
  `Cache-Control` itself and is left alone.
- `JSONParser`: DRF's JSON parser, except that a document nested deeper than Python's
  recursion limit (`[[[[...`, a few kilobytes) is a 400 parse error; DRF lets the
  RecursionError escape as a 500. authgate's views use it; set it in
  `REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]` for the project's own views too.
"""

from collections.abc import Callable, Mapping
from typing import IO, Any

from django.http import HttpRequest, HttpResponseBase
from rest_framework import parsers
from rest_framework.exceptions import ParseError


class NoStoreMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class JSONParser(parsers.JSONParser):
    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
