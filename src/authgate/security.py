"""
HTTP-level hardening that is not about one view: response headers, and the OpenAPI
description of authgate's two credentials (so clients and fuzzers know how to send them).

- `NoStoreMiddleware` (add to MIDDLEWARE): answers of the API carry tokens, session lists
  and account data, so no browser or proxy cache may keep them (RFC 6749 §5.1 asks this of
  token responses). It marks every JSON response that did not choose its own caching
  (`Cache-Control: no-store`); a view that wants caching — the JWKS document — sets
  `Cache-Control` itself and is left alone.
- `JSONParser`: DRF's JSON parser, except that a document nested deeper than Python's
  recursion limit (`[[[[...`, a few kilobytes) is a 400 parse error; DRF lets the
  RecursionError escape as a 500. authgate's views use it; set it in
  `REST_FRAMEWORK["DEFAULT_PARSER_CLASSES"]` for the project's own views too.
- OpenAPI security schemes for drf-spectacular: `bearerAuth` (JWT in the Authorization
  header) or `accessCookie` (cookie mode), and `tokenAuth` (`Authorization: Token <key>`).
  Imported by `AuthgateConfig.ready()`, which registers them.
"""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_bearer_security_scheme_object
from rest_framework import parsers
from rest_framework.exceptions import ParseError

from .settings import api_settings


class NoStoreMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        content_type = response.get("Content-Type", "")
        if content_type.startswith("application/json") and not response.has_header("Cache-Control"):
            response["Cache-Control"] = "no-store"
        return response


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None


class JWTSessionScheme(OpenApiAuthenticationExtension):
    target_class = "authgate.authentication.JWTSessionAuthentication"
    match_subclasses = True
    name = ["bearerAuth", "accessCookie"]

    def get_security_requirement(self, auto_schema):
        # Either credential, not both (a list of requirements means OR in OpenAPI).
        return [{"bearerAuth": []}, {"accessCookie": []}]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            {"type": "apiKey", "in": "cookie", "name": api_settings.ACCESS_COOKIE_NAME},
        ]


class StaticTokenScheme(OpenApiAuthenticationExtension):
    target_class = "authgate.authentication.StaticTokenAuthentication"
    match_subclasses = True
    name = "tokenAuth"

    def get_security_definition(self, auto_schema):
        return build_bearer_security_scheme_object(
            header_name="Authorization", token_prefix=api_settings.STATIC_TOKEN_HEADER_TYPE
        )
