"""
Structured logs for log shippers: `JSONFormatter` writes each record as one JSON object on
one line. The service uses it when LOG_FORMAT=json (server/settings.py for the
application's loggers, server/gunicorn.conf.py for gunicorn's error and access logs).
"""

import json
import logging
from datetime import datetime, timezone

# Attributes every LogRecord has: anything else on a record came from `extra=` and is kept.
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
# gunicorn passes its access-log atoms as the record's args: the useful ones, named.
_ACCESS_ATOMS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "q": "query",
    "s": "status",
    "B": "bytes",
    "a": "user_agent",
    "f": "referer",
}


class JSONFormatter(logging.Formatter):
    """time (UTC, ISO 8601), level, logger, message, process; `extra` fields; the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, tz=timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
        }
        if record.name == "gunicorn.access" and isinstance(record.args, dict):
            entry.update({name: record.args.get(atom) for atom, name in _ACCESS_ATOMS.items()})
            if str(record.args.get("D", "")).isdigit():  # microseconds
                entry["duration_ms"] = round(int(record.args["D"]) / 1000, 3)
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=False)
