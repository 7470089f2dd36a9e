"""Database backends tuned for authgate's per-request path (optional; see docs/deployment-scaling.md)."""
