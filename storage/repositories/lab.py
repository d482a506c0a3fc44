"""Repositories: lab results and their analytes, as the person reads them.

They flush when they need ids and never commit. (What laboratories send is
written by storage.repositories.integration.LabReportRepo.)
"""

from __future__ import annotations

from storage.repositories.base import Repo


class LabResultRepo(Repo):
    """Pages of results, one result with its analytes, an analyte's series."""
