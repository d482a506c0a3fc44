"""Signing in to the portal account: login, password, phone, second factor."""
