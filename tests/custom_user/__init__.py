"""A project whose user model logs in by email (USERNAME_FIELD = "email") and has no
`username` field: authgate must work with it end to end. Run by
tests/core/test_custom_user_model.py in its own pytest process (`scenarios.py`), since a
process has one AUTH_USER_MODEL."""
