"""
authgate's mail uses no part of Django's mail API that the supported Django lines deprecate:
the default mailer (`mailers.default` where Django has mailers, `get_connection()` before
them) and `EmailMultiAlternatives` built with keywords. Run on both lines of the test matrix
(portable): on Django 6.1 a deprecated call would warn here.
"""

import warnings

import pytest
from django.core import mail as django_mail

from authgate import mail

pytestmark = pytest.mark.portable


def test_a_mail_goes_out_through_the_default_mailer_without_a_deprecation_warning(user, settings, rf):
    settings.AUTHGATE = {**getattr(settings, "AUTHGATE", {}), "SEND_MAIL_IN_BACKGROUND": False}
    request = rf.post("/api/auth/password/reset/")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = mail.password_reset_mail(request, user)
        mail.outbox.send([message])
    deprecations = [
        f"{w.filename}:{w.lineno}: {w.message}"
        for w in caught
        if issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))
    ]
    assert deprecations == []
    assert [m.to for m in django_mail.outbox] == [[user.email]]
    assert django_mail.outbox[0].alternatives[0][1] == "text/html"
