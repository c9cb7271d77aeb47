"""Who a district's Directory Administrators are (imported with `helpdesk admins import`)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from bot.models import DirectoryAdmin


def lookup_admins(session: Session, district: str) -> list[DirectoryAdmin]:
    """The administrators of `district` (its canonical name), by last then first name."""
    return list(
        session.execute(
            select(DirectoryAdmin)
            .where(DirectoryAdmin.district == district)
            .order_by(DirectoryAdmin.last_name, DirectoryAdmin.first_name, DirectoryAdmin.id)
        ).scalars()
    )
