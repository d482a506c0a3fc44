"""Systems that call in: laboratories sending results over the HTTP API."""
