"""What a ticket page offers besides the ticket: the agents it can be assigned to and the canned
replies, filled for this ticket (`{first_name}`, `{reference}`)."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from bot.console.agents import AgentService
from bot.console.canned_replies import CannedReplies, fill
from bot.console.ticket_desk import TicketView
from bot.web.common import SESSIONS_KEY


@dataclass(frozen=True)
class CannedChoice:
    id: int
    title: str
    text: str  # filled for the ticket


@dataclass(frozen=True)
class TicketHelpers:
    agents: list[tuple[str, str]]  # (username, display name) of active agents
    canned: list[CannedChoice]

    def chosen_text(self, canned_id: str) -> str:
        """The filled text of the canned reply `canned_id` names ("" for none or unknown):
        what the reply form starts with when a canned reply is picked without JavaScript."""
        return next((choice.text for choice in self.canned if str(choice.id) == canned_id), "")


def ticket_helpers(request: web.Request, ticket: TicketView) -> TicketHelpers:
    """For the ticket page (blocking: run it in a thread)."""
    sessions = request.app[SESSIONS_KEY]
    agents = [(agent.username, agent.display_name)
              for agent in AgentService(sessions).list_agents() if agent.active]
    canned = [CannedChoice(reply.id, reply.title,
                           fill(reply.body, ticket.first_name, ticket.reference))
              for reply in CannedReplies(sessions).replies()]
    return TicketHelpers(agents, canned)
