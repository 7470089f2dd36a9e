"""
The service's example routes beyond DRF, answering what `/api/protected/` answers:

- `GET /api/ninja/protected/` and `GET /api/ninja/async/protected/` (Django Ninja, a sync
  and an async operation), and `GET /api/ninja/public/` (Ninja's own unauthenticated
  route: the benchmarks' floor for Ninja);
- `GET /api/plain/protected/` (a plain Django view) and `GET /api/plain/async/protected/`.
"""

from typing import Any

from django.http import HttpRequest, JsonResponse
from ninja import NinjaAPI

import authgate.ninja
from authgate.plain import jwt_required


def _hello(request: HttpRequest) -> dict[str, str]:
    return {"message": f"Hello {request.user.get_username()}, you have accessed a protected route!"}


ninja_api = authgate.ninja.install(
    NinjaAPI(urls_namespace="ninja", title="authgate Ninja examples", docs_url=None, openapi_url=None)
)


@ninja_api.api_operation(["GET", "POST"], "/protected/", auth=authgate.ninja.JWTSessionAuth())
def ninja_protected(request: HttpRequest) -> dict[str, str]:
    return _hello(request)


@ninja_api.api_operation(["GET", "POST"], "/async/protected/", auth=authgate.ninja.JWTSessionAuth())
async def ninja_async_protected(request: HttpRequest) -> dict[str, str]:
    return _hello(request)


@ninja_api.get("/public/")
def ninja_public(request: HttpRequest) -> dict[str, Any]:
    return {"ok": True}


@jwt_required
def plain_protected(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_hello(request))


@jwt_required
async def plain_async_protected(request: HttpRequest) -> JsonResponse:
    return JsonResponse(_hello(request))
