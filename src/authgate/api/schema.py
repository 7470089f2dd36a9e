"""
The OpenAPI side of authgate, optional: with the `openapi` extra (drf-spectacular) the
views describe themselves and both credentials appear as security schemes; without it
the schema decorators do nothing and authgate works the same.

Views import `extend_schema`, `OpenApiResponse` and `inline_serializer` from here, never
from drf_spectacular directly, so that a plain `pip install authgate` (no drf-spectacular)
can import every module. The security schemes, registered when `AuthgateConfig.ready()` imports this module:
`bearerAuth` (JWT in the Authorization header) or `accessCookie` (cookie mode), and
`tokenAuth` (`Authorization: Token <key>`).
"""

from typing import Any

from ..conf import api_settings

__all__ = ["AVAILABLE", "OpenApiResponse", "extend_schema", "inline_serializer"]

try:
    from drf_spectacular.extensions import OpenApiAuthenticationExtension
    from drf_spectacular.plumbing import build_bearer_security_scheme_object
    from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer

    AVAILABLE = True
except ImportError:  # the `openapi` extra is not installed
    AVAILABLE = False

    def extend_schema(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        """Without drf-spectacular: leaves the view or method as it is."""
        return lambda target: target

    def OpenApiResponse(*args: Any, **kwargs: Any) -> Any:  # type: ignore[no-redef]  # noqa: N802
        return None

    def inline_serializer(*args: Any, **kwargs: Any) -> Any:  # type: ignore[misc]
        return None


if AVAILABLE:
    # Defining an extension registers it with drf-spectacular (this module is imported by
    # `AuthgateConfig.ready()`).

    class JWTSessionScheme(OpenApiAuthenticationExtension):
        target_class = "authgate.authentication.JWTSessionAuthentication"
        match_subclasses = True
        name = ["bearerAuth", "accessCookie"]

        def get_security_requirement(self, auto_schema: Any) -> list[dict[str, list[str]]]:
            # Either credential, not both (a list of requirements means OR in OpenAPI).
            return [{"bearerAuth": []}, {"accessCookie": []}]

        def get_security_definition(self, auto_schema: Any) -> list[dict[str, str]]:
            return [
                {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                {"type": "apiKey", "in": "cookie", "name": api_settings.ACCESS_COOKIE_NAME},
            ]

    class StaticTokenScheme(OpenApiAuthenticationExtension):
        target_class = "authgate.authentication.StaticTokenAuthentication"
        match_subclasses = True
        name = "tokenAuth"

        def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
            return build_bearer_security_scheme_object(
                header_name="Authorization", token_prefix=api_settings.STATIC_TOKEN_HEADER_TYPE
            )
