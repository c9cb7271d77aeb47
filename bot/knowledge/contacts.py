"""Who handles what: each system's help-desk contacts (knowledge/sources.yml) as one phrase."""

from __future__ import annotations

from bot.knowledge.entries import load_knowledge

# Help-desk contacts (keys of `contacts` in knowledge/sources.yml) named in each system's mail.
HELP_DESK: dict[str, tuple[str, ...]] = {
    "ese_portal": ("ese_login_help", "ese_customer_service"),
    "massone": ("massone_helpdesk",),
}


def help_desk_phrase(system: str | None) -> str:
    """The system's help desk, e.g. "MassONE Help Desk (massonehelp@…, 781-…, Monday …)".

    `None` (a request not about one system) names the help desks of both systems.
    """
    if system is None:
        names = [name for contacts in HELP_DESK.values() for name in contacts]
    else:
        names = list(HELP_DESK[system])
    contacts = load_knowledge().contacts
    parts = []
    for name in names:
        contact = contacts[name]
        details = [contact[key] for key in ("email", "phone") if contact.get(key)]
        hours = f", {contact['hours']}" if contact.get("hours") else ""
        parts.append(f"{contact['name']} ({', '.join(details)}{hours})")
    return " or ".join(parts)
