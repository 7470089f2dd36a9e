"""The password hasher of the test settings: Argon2id, as the service uses, at a test's cost.

Django's Argon2 parameters (100 MiB, 8 lanes) take 0.2–0.7 s a hash on a 2-core machine, and
the suite logs in thousands of times. These run the same algorithm through the same code
(hash format `argon2$argon2id$…`, `check_password`, `must_update`) in well under a
millisecond. The gunicorn servers of the multi-process tests run the service's own settings,
so its real parameters are exercised there.
"""

from django.contrib.auth.hashers import Argon2PasswordHasher


class QuickArgon2PasswordHasher(Argon2PasswordHasher):
    time_cost = 1
    memory_cost = 256  # KiB
    parallelism = 1
