"""
gunicorn settings of the authgate service (`make run` passes `-c server/gunicorn.conf.py`;
command-line flags still win).

- Prometheus multiprocess mode: every worker keeps its metrics in files under
  PROMETHEUS_MULTIPROC_DIR and GET /metrics sums them, so a scrape sees all the workers,
  not whichever one answered. Unless the variable is set, a fresh directory is made for
  each start (stale files from an earlier run would add old counts) and removed at exit.
  When a worker exits, its live-gauge files are marked dead.
- LOG_FORMAT=json: gunicorn's own error and access logs as one JSON object per line, like
  the application's (server/logs.py).
"""

import os
import shutil
import tempfile
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # gunicorn has no type information: these are Any to a type checker
    from gunicorn.arbiter import Arbiter
    from gunicorn.workers.base import Worker

_own_metrics_dir = None
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    # Set before any worker is forked and before prometheus_client is imported anywhere.
    _own_metrics_dir = tempfile.mkdtemp(prefix="authgate-prometheus-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _own_metrics_dir


def on_starting(server: "Arbiter") -> None:
    # The start-up warnings, once, from the master: its workers inherit the mark (server/apps.py).
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "server.settings")
    from server.apps import warn_once

    warn_once(server.log.warning)


def child_exit(server: "Arbiter", worker: "Worker") -> None:
    try:
        from prometheus_client import multiprocess
    except ImportError:
        return
    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: "Arbiter") -> None:
    if _own_metrics_dir:
        shutil.rmtree(_own_metrics_dir, ignore_errors=True)


if os.environ.get("LOG_FORMAT", "").strip().lower() == "json":
    logconfig_dict = {
        # gunicorn's loggers write once, through their own handlers; the root logger
        # writes nothing (the application configures its own loggers, see LOGGING).
        "root": {"level": "WARNING", "handlers": []},
        "loggers": {
            "gunicorn.error": {
                "level": "INFO",
                "handlers": ["error_console"],
                "propagate": False,
                "qualname": "gunicorn.error",
            },
            "gunicorn.access": {
                "level": "INFO",
                "handlers": ["console"],
                "propagate": False,
                "qualname": "gunicorn.access",
            },
        },
        "formatters": {"generic": {"()": "server.logs.JSONFormatter"}},
    }
