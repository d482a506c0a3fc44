"""Repository: which file-store keys the database still points to (for the orphan sweep).

Every table with a ``storage_key`` is listed here, so that sweeping the store for
files left by a crash never deletes a file another area keeps.
"""

from __future__ import annotations

from sqlalchemy import select, union

from storage.models import ApplicationDocument, Appointment, LabResult, RecordDocument
from storage.repositories.base import Repo

# Each model whose rows name a file in the store.
FILE_TABLES = (ApplicationDocument, RecordDocument, LabResult, Appointment)


class FileKeyRepo(Repo):
    async def referenced(self) -> set[str]:
        """Every key that a document, a lab result or a visit's attached file names."""
        stmt = union(*(select(model.storage_key) for model in FILE_TABLES))
        rows = await self.session.execute(stmt)
        return {key for key in rows.scalars() if key is not None}
