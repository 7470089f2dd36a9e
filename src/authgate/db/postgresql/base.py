"""
Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS, Django sends `SELECT 1` before the first query of every request
that reuses a persistent connection: one more round trip per request (measured ~0.3 ms,
more than the query it guards). A connection that the server closed or is closing (restart,
`pg_terminate_backend`, idle timeout, failover) has told us so on its socket: a FATAL
message and/or end-of-file arrive while it sits idle between requests, and an idle healthy
connection has nothing to read. So the check here looks at the socket instead (a `select`
with no wait, microseconds): anything readable, or libpq's status not OK, and the
connection is closed and reopened exactly as Django's own check would do. A peer that
vanished without a word (no FIN) is caught by neither check in time; TCP keepalives or
the query's own error (a JSON 503) cover it, as before.

Use it with ENGINE = "authgate.db.postgresql" (the service does when DATABASE_URL is
PostgreSQL).
"""

import select

from django.db.backends.postgresql import base


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed:
            return False
        try:
            from psycopg import pq

            pgconn = connection.pgconn
            if pgconn.status != pq.ConnStatus.OK or pgconn.transaction_status != pq.TransactionStatus.IDLE:
                return super().is_usable()
            return not select.select([pgconn.socket], [], [], 0)[0]
        except (AttributeError, ImportError, OSError, ValueError):  # psycopg2 or an odd state
            return super().is_usable()
