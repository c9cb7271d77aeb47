"""Generated Rasa files match knowledge/, and answer edits do not touch them."""

from __future__ import annotations

import spacy
import yaml

from bot.knowledge.entries import KnowledgeBase
from bot.nlu.generate import RESPONSES_FILE, ROOT, SPACY_DIR, faq_responses_yaml, stale_files
from bot.nlu.train import training_inputs


def test_generated_files_are_current(kb: KnowledgeBase) -> None:
    assert stale_files(kb) == [], "run `make generate` and commit data/generated/"


def test_every_faq_has_exactly_one_generated_response(kb: KnowledgeBase) -> None:
    responses = yaml.safe_load(RESPONSES_FILE.read_text())["responses"]
    assert sorted(responses) == sorted(f"utter_faq/{faq_id}" for faq_id in kb.faq_ids())


def test_answer_text_is_not_a_training_input(kb: KnowledgeBase) -> None:
    """Only questions go into the generated file, so rewording an answer needs no retraining."""
    generated = faq_responses_yaml(kb)
    for faq_id in kb.faq_ids():
        answer = kb.resolve(faq_id, "massone")
        assert getattr(answer, "text", "")[:60] not in generated


def test_spacy_pipeline_finds_systems_and_applications() -> None:
    nlp = spacy.load(SPACY_DIR)
    doc = nlp("I need SIMS and drop box central access, and my Mass ONE account is locked")
    found = {(ent.text.lower(), ent.label_, ent.ent_id_) for ent in doc.ents}
    assert found == {
        ("sims", "application", "ese_portal"),
        ("drop box central", "application", "ese_portal"),
        ("mass one", "system", "massone"),
    }
    assert not nlp("what's the weather like in Chicago tomorrow").ents


def test_spacy_pipeline_finds_districts_but_not_people_named_like_towns() -> None:
    nlp = spacy.load(SPACY_DIR)
    doc = nlp("I moved from Worcester Public Schools to acton-boxborough")
    assert [(ent.label_, ent.ent_id_) for ent in doc.ents] == [
        ("district", "Worcester"), ("district", "Acton-Boxborough")
    ]
    assert not nlp("my name is Sharon Lee and I teach reading").ents


def test_spacy_pipeline_finds_member_towns_and_abbreviations_not_first_names() -> None:
    nlp = spacy.load(SPACY_DIR)
    found = [(ent.text, ent.ent_id_) for ent in nlp(
        "I teach in Boxborough, we moved from BPS and my sister is in holden"
    ).ents]
    assert found == [("Boxborough", "Acton-Boxborough"), ("BPS", "Boston"),
                     ("in holden", "Wachusett")]
    question = nlp("who's the directory admin for WPS?")
    assert [(ent.label_, ent.ent_id_) for ent in question.ents] == [
        ("term", "ese_portal"), ("district", "Worcester")
    ]
    assert not nlp("my son Holden lives in Washington and reads about Warren").ents


def test_only_training_inputs_decide_retraining() -> None:
    inputs = {str(path.relative_to(ROOT)) for path in training_inputs()}
    assert "data/generated/faq_responses.yml" in inputs and "config.yml" in inputs
    assert not any(name.startswith("knowledge/") for name in inputs)
