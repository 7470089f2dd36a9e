"""
A reset link can be checked before it is used: GET on the confirm endpoint names the account
(for the page to say whose password is being chosen) and leaves the link usable; an invalid,
used or malformed link is the usual 400 `invalid_link` JSON error.
"""

from authgate import recovery

from ..conftest import PASSWORD

CONFIRM = "/api/auth/password/reset/confirm/"


def link_of(user):
    return {"uid": recovery.encode_uid(user), "token": recovery.reset_token_generator.make_token(user)}


def test_a_valid_link_names_its_account_and_stays_usable(api_client, user):
    link = link_of(user)
    response = api_client.get(CONFIRM, link)
    assert response.status_code == 200, response.content
    assert response.json() == {"username": "alice", "email": "alice@example.com"}
    used = api_client.post(CONFIRM, {**link, "new_password": "Brand-new-passphrase-42"}, format="json")
    assert used.status_code == 200, used.content


def test_a_used_or_forged_link_is_an_invalid_link_error(api_client, user):
    link = link_of(user)
    api_client.post(CONFIRM, {**link, "new_password": "Brand-new-passphrase-42"}, format="json")
    for query in (link, {**link, "token": "x-y"}, {"uid": "!!", "token": "t"}):
        response = api_client.get(CONFIRM, query)
        assert response.status_code == 400
        assert response.json()["code"] == "invalid_link"
    user.refresh_from_db()
    assert user.check_password(PASSWORD) is False  # the first use did change it


def test_a_check_without_the_link_names_the_missing_fields(api_client, db):
    response = api_client.get(CONFIRM)
    assert response.status_code == 400
    assert set(response.json()) >= {"uid", "token"}
