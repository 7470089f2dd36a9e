"""
Process harness shared by the tests and the benches (bench/*.py import it too).

- `processes`: free loopback ports, waiting for a condition, and `GunicornServer`, the one
  launcher of gunicorn subprocesses (own process group, killed as a group on stop).
- `services`: private throw-away services a fault test may kill or restart without touching
  the machine's shared ones: `RedisServer`, `RedisSentinel` and `PostgresCluster` (its own
  `initdb` data directory on a free port).

Standard library only at import time (redis-py and psycopg are imported where used), so the
bench driver can import it before any virtualenv exists.
"""
