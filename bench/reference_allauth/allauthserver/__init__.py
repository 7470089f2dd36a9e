"""Reference server for the benchmark: django-allauth's headless API with its JWT token strategy."""
