"""The knowledge base: the contract's ids, faithful contacts, answer resolution, live reload."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import pytest
import yaml

from bot.knowledge.entries import (
    KNOWLEDGE_DIR,
    Answer,
    KnowledgeBase,
    KnowledgeError,
    NeedsSystem,
    load_knowledge,
)

CONTRACT_FAQ_IDS = """
ese_portal_about ese_portal_applications ese_portal_ssl ese_create_profile ese_profile_may_exist
ese_no_confirmation_email ese_data_tool_access ese_change_password ese_retrieve_looks_new
ese_directory_admin_role ese_customer_service ese_elar credentials_case_sensitive
massone_about massone_helpdesk_contact massone_eligibility massone_cost massone_registration
massone_registration_time massone_welcome_email massone_welcome_email_missing
massone_birth_date_wrong massone_choose_username massone_change_email massone_vs_ese_login
massone_browser_support massone_personal_folder_privacy massone_file_security
massone_register_students massone_district_admin
""".split()
CONTRACT_FLOW_IDS = """
forgot_username forgot_password report_name_misspelled merge_duplicate_accounts transfer_account
reactivate_account login_incorrect report_error find_directory_admin ticket_status human_handoff
""".split()


def all_answers(kb: KnowledgeBase) -> list[Answer]:
    answers = []
    for entry_id in kb.entries:
        for system in (None, "ese_portal", "massone"):
            result = kb.resolve(entry_id, system)
            if isinstance(result, Answer):
                answers.append(result)
    return answers


def test_every_contract_id_has_an_entry(kb: KnowledgeBase) -> None:
    assert set(CONTRACT_FAQ_IDS) <= set(kb.faq_ids())
    assert set(CONTRACT_FLOW_IDS) == set(kb.flow_ids())


def test_entries_are_tagged_with_their_system(kb: KnowledgeBase) -> None:
    for entry_id in kb.faq_ids():
        expected = "both" if entry_id == "credentials_case_sensitive" else entry_id.split("_")[0]
        assert kb.entries[entry_id].system.startswith(expected), entry_id


def test_every_answer_renders_with_a_source(kb: KnowledgeBase) -> None:
    for answer in all_answers(kb):
        assert "{" not in answer.text and "}" not in answer.text, answer.entry_id
        assert len(answer.text) > 40, answer.entry_id
        assert answer.source_label.count(" - ") == 1
        payload = answer.payload()
        assert payload["faq_id"] == answer.entry_id
        assert payload["document"] in {"ESE Security Portal: Login Help", "MassONE FAQ"}
        assert payload["section"]


@pytest.mark.parametrize(
    ("entry_id", "system", "facts"),
    [
        ("massone_helpdesk_contact", "massone",
         ["massonehelp@doe.mass.edu", "781-338-3020", "Monday through Friday", "8:00 am",
          "4:00 pm"]),
        ("ese_customer_service", "ese_portal", ["(781) 338-6600"]),
        ("ese_profile_partial_match", None, ["(781) 338-6600", "Directory Administrator"]),
        ("massone_vs_ese_login", None, ["two separate applications", "loginhelp@doe.mass.edu"]),
        ("massone_cost", None, ["no charge"]),
        ("massone_welcome_email_missing", "massone", ["three days", "massonehelp@doe.mass.edu"]),
        ("find_directory_admin", None,
         ["http://www.doe.mass.edu/infoservices/data/diradmin/list.aspx"]),
        ("massone_browser_support", None, ["Safari", "Opera version 8", "Netscape"]),
        ("ese_portal_applications", None, ["MDCS", "SIMS", "Drop Box Central", "TechPlan"]),
        ("forgot_password", "massone", ["Forgot your password?", "username is not sent"]),
        ("forgot_username", "massone", ["local MassONE Admin", "781-338-3020"]),
        ("login_incorrect", "massone", ["case sensitive", "daytime telephone number"]),
        ("report_error", "massone", ["browser", "operating system", "error messages"]),
        ("transfer_account", "massone", ["effective date", "personal folder"]),
        ("transfer_account", "ese_portal", ["Directory Administrator of your new district"]),
        ("reactivate_account", "massone", ["more than a year", "full name, school and district"]),
        ("report_name_misspelled", "massone", ["don't use the account"]),
        ("report_name_misspelled", "ese_portal", ["MassONE procedure does not apply"]),
    ],
)
def test_answers_keep_the_documents_facts(
    kb: KnowledgeBase, entry_id: str, system: str | None, facts: list[str]
) -> None:
    answer = kb.resolve(entry_id, system)
    assert isinstance(answer, Answer)
    for fact in facts:
        assert fact in answer.text, f"{entry_id} lost {fact!r}"


def test_the_spam_author_block_is_not_content() -> None:
    text = "\n".join(path.read_text() for path in KNOWLEDGE_DIR.glob("*.yml"))
    for spam in ("Stevie Stamm", "Sipes Estate", "342332224300", "Leather crafting"):
        assert spam not in text


def test_every_phone_and_email_comes_from_the_documents(kb: KnowledgeBase) -> None:
    source = " ".join(path.read_text() for path in (KNOWLEDGE_DIR / "documents").glob("*.txt"))
    assert "massonehelp@doe.mass.edu" in source
    for contact in kb.contacts.values():
        for key in ("email", "phone"):
            if key in contact:
                assert contact[key] in source, contact[key]
    for url in kb.links.values():
        assert url.rstrip("/") in source, url


def test_system_specific_questions_ask_when_the_system_is_unknown(kb: KnowledgeBase) -> None:
    assert kb.resolve("forgot_password", None) == NeedsSystem("forgot_password")
    assert kb.resolve("massone_helpdesk_contact", None) == NeedsSystem("massone_helpdesk_contact")
    # The same question for the other system answers from its counterpart.
    answer = kb.resolve("massone_helpdesk_contact", "ese_portal")
    assert isinstance(answer, Answer) and answer.entry_id == "ese_customer_service"
    # Questions that are about one system, or the same for both, never ask.
    assert isinstance(kb.resolve("massone_vs_ese_login", None), Answer)
    assert isinstance(kb.resolve("massone_cost", None), Answer)
    both = kb.resolve("credentials_case_sensitive", None)
    assert isinstance(both, Answer) and "both" in both.text
    only_massone = kb.resolve("credentials_case_sensitive", "massone")
    assert isinstance(only_massone, Answer) and only_massone.document_id == "massone_faq"


def test_names_and_terms_map_to_their_system(kb: KnowledgeBase) -> None:
    assert kb.system_of_mention("Mass ONE") == "massone"
    assert kb.system_of_mention("massone") == "massone"
    assert kb.system_of_mention("ELAR") == "ese_portal"
    assert kb.system_of_mention("drop box central") == "ese_portal"
    assert kb.system_of_mention("Directory Administrator") == "ese_portal"
    assert kb.system_of_mention("Gmail") is None


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    target = tmp_path / "knowledge"
    shutil.copytree(KNOWLEDGE_DIR, target)
    return target


def _edit(path: Path, change) -> None:
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_an_edited_answer_is_served_without_restart(knowledge_copy: Path) -> None:
    before = load_knowledge(knowledge_copy).resolve("massone_cost", None)
    time.sleep(0.01)

    def reword(data):
        data["entries"][3]["answer"] = "MassONE is free of charge for educators and students."

    _edit(knowledge_copy / "massone.yml", reword)
    after = load_knowledge(knowledge_copy).resolve("massone_cost", None)
    assert isinstance(before, Answer) and isinstance(after, Answer)
    assert before.text != after.text == "MassONE is free of charge for educators and students."


@pytest.mark.parametrize(
    ("file", "change", "message"),
    [
        ("massone.yml", lambda d: d["entries"][0].update(answer="Call {contact.nobody.phone}"),
         "unknown contact"),
        ("massone.yml", lambda d: d["entries"][0].update(answer="See {link.nowhere}"),
         "unknown link"),
        ("massone.yml", lambda d: d["entries"][0].update(section="lunch"), "unknown source"),
        ("massone.yml", lambda d: d["entries"][1].update(id="massone_about"), "duplicate id"),
        ("massone.yml", lambda d: d["entries"][0].update(counterpart="massone_cost"),
         "counterpart"),
        ("flows.yml", lambda d: d["entries"][0]["variants"].pop("massone"), "variant per system"),
        ("massone.yml", lambda d: d["entries"][0].update(answer="Call {contact.massone_helpdesk"),
         "malformed placeholder"),
    ],
)
def test_inconsistent_knowledge_is_refused_with_a_reason(
    knowledge_copy: Path, file: str, change, message: str
) -> None:
    _edit(knowledge_copy / file, change)
    with pytest.raises(KnowledgeError, match=message):
        KnowledgeBase(knowledge_copy)


# --- source labels: each answer cites the document and section its facts come from -----------

PHONE_OR_EMAIL = re.compile(r"\(?\d{3}\)?[ -]\d{3}-\d{4}|[\w.+-]+@[\w-]+(?:\.[\w-]+)+")


def document_sections(kb: KnowledgeBase) -> dict[tuple[str, str], str]:
    """(document id, section id) -> the section's text in knowledge/documents/.

    The ESE page is an ASP dump with one `mode="<section>"` branch per section; the MassONE FAQ
    has its section titles on lines of their own."""
    documents = KNOWLEDGE_DIR / "documents"
    sections: dict[tuple[str, str], str] = {}
    ese = (documents / "ese_login_help.txt").read_text()
    for section in kb.documents["ese_login_help"]["sections"]:
        found = re.search(rf'mode="{section}"(.*?)(?:ElseIf mode=|End If)', ese, re.DOTALL)
        assert found, section
        sections["ese_login_help", section] = found.group(1)
    titles = {title: section for section, title in kb.documents["massone_faq"]["sections"].items()}
    current = None
    for line in (documents / "massone_faq.txt").read_text().splitlines():
        if line.strip() in titles:
            current = titles[line.strip()]
        elif current is not None:
            sections["massone_faq", current] = sections.get(("massone_faq", current), "") + line
    assert len(sections) == 9
    return sections


def answer_texts(kb: KnowledgeBase):
    """(entry, variant, text) for every answer text of every entry."""
    for entry in kb.entries.values():
        for variant, text in entry.texts():
            yield entry, variant, text


def test_an_answer_about_one_system_cites_that_systems_document(kb: KnowledgeBase) -> None:
    wrong = []
    for entry, variant, text in answer_texts(kb):
        system = variant or (entry.system if entry.system != "both" else None)
        if system is not None and kb.documents[text.document]["system"] != system:
            wrong.append(f"{entry.id} ({system}) cites {text.document}#{text.section}")
    assert wrong == []


def test_an_answer_giving_contacts_cites_a_section_that_has_them(kb: KnowledgeBase) -> None:
    """Of the phone numbers and e-mail addresses an answer takes from the document it cites,
    the section cited has at least one (an answer may add a contact from elsewhere)."""
    sections = document_sections(kb)
    wrong = []
    for entry, variant, text in answer_texts(kb):
        document = " ".join(body for (doc, _s), body in sections.items() if doc == text.document)
        facts = [fact for fact in PHONE_OR_EMAIL.findall(kb.render(text.template))
                 if fact in document]
        section = sections[text.document, text.section]
        if facts and not any(fact in section for fact in facts):
            wrong.append(f"{entry.id} ({variant or 'generic'}): {', '.join(facts)} not in "
                         f"{text.document}#{text.section}")
    assert wrong == []


def test_review_dates_are_dates_and_a_missing_one_means_never(
    kb: KnowledgeBase, knowledge_copy: Path
) -> None:
    import datetime as dt

    assert kb.entries["massone_browser_support"].reviewed == dt.date(2007, 11, 27)
    assert kb.entries["ese_portal_about"].reviewed is None
    _edit(knowledge_copy / "massone.yml",
          lambda d: d["entries"][0].update(reviewed="last spring"))
    with pytest.raises(KnowledgeError, match="reviewed must be a date"):
        KnowledgeBase(knowledge_copy)
