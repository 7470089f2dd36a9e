"""
The error hierarchy (`authgate.errors`): every refusal is an `AuthgateError` whose answer is
class data; each documented token `reason` is one class; the package names reasons by class,
never by a string literal handed to an exception; the older import paths give the same classes.
"""

import ast
from pathlib import Path

import pytest
from rest_framework import exceptions

from authgate import errors
from authgate.tokens import TokenError

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "authgate"
# The reasons of a refused token, as the error contract documents them.
REASONS = {"malformed", "expired", "revoked", "wrong_type", "user_inactive"}
REASON_CLASSES = [
    errors.TokenMalformed,
    errors.TokenExpired,
    errors.TokenRevoked,
    errors.TokenWrongType,
    errors.UserInactive,
]


def test_each_documented_reason_is_one_class_of_token_error():
    assert {cls.reason for cls in REASON_CLASSES} == REASONS
    for cls in REASON_CLASSES:
        assert issubclass(cls, TokenError) and issubclass(cls, errors.AuthgateError)
        # A DRF AuthenticationFailed: DRF gives its 401 the WWW-Authenticate header.
        assert issubclass(cls, exceptions.AuthenticationFailed)
        assert (cls.status_code, cls.code) == (401, "token_not_valid")


@pytest.mark.parametrize("cls", REASON_CLASSES, ids=lambda cls: cls.__name__)
def test_a_token_error_answers_its_class_data(cls):
    error = cls()
    assert error.body() == {"detail": str(cls.default_detail), "code": "token_not_valid", "reason": cls.reason}
    response = cls("Another detail.").response()
    assert response.status_code == 401 and response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_every_error_class_carries_its_answer_as_class_attributes():
    classes = [cls for cls in vars(errors).values() if isinstance(cls, type) and issubclass(cls, errors.AuthgateError)]
    assert len(classes) > 15
    for cls in classes:
        assert isinstance(cls.status_code, int) and isinstance(cls.code, str) and cls.default_code == cls.code
        assert str(cls.default_detail)


def test_errors_without_a_reason_answer_detail_and_code_only():
    assert errors.InvalidCredentials().body() == {
        "detail": "No active account found with the given credentials.",
        "code": "invalid_credentials",
    }
    assert errors.NotAuthenticated().body()["code"] == "not_authenticated"
    csrf = errors.CSRFFailed(detail="CSRF Failed: no token")
    assert (csrf.status, csrf.www_authenticate, csrf.body()) == (
        403,
        None,
        {"detail": "CSRF Failed: no token", "code": "permission_denied"},
    )


def test_no_exception_of_the_package_is_given_a_reason_as_a_string_literal():
    names = {"TokenError", "TokenInvalid", "InvalidToken", "AuthenticationFailed"}
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in names and node.args and isinstance(node.args[0], ast.Constant):
                pytest.fail(f"{path.relative_to(PACKAGE)}:{node.lineno} {ast.unparse(node)}")
