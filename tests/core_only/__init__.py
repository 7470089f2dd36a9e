"""A project with authgate's core dependencies only (no extras): see `flow.py`."""
