"""Repositories: requests for signed extracts and their history.

They flush when they need ids and never commit.
"""

from __future__ import annotations

from storage.repositories.base import Repo


class ExtractRequestRepo(Repo):
    """Requests for extracts, newest first."""
