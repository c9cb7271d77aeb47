"""Training data hygiene: every intent covered, held-out split never trained on."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
import yaml
from rasa.shared.nlu.training_data.loading import load_data

from bot.knowledge.entries import KnowledgeBase

ROOT = Path(__file__).resolve().parent.parent
CONVERSATION = {"greet", "goodbye", "thank", "bot_challenge", "affirm", "deny", "choose_system",
                "stop", "inform", "out_of_scope", "help", "cant_log_in", "retry", "not_received"}


def _labels(directory: Path) -> Counter:
    counts: Counter = Counter()
    for path in directory.glob("*.yml"):
        for message in load_data(str(path)).intent_examples:
            counts[message.get("intent_response_key") or message.get("intent")] += 1
    return counts


def _texts(directory: Path) -> set[str]:
    texts = set()
    for path in directory.glob("*.yml"):
        for message in load_data(str(path)).intent_examples:
            texts.add(re.sub(r"\W+", " ", message.get("text").lower()).strip())
    return texts


@pytest.fixture(scope="module")
def training() -> Counter:
    return _labels(ROOT / "data" / "nlu")


def test_every_intent_and_faq_has_enough_examples(training: Counter, kb: KnowledgeBase) -> None:
    expected = {f"faq/{i}" for i in kb.faq_ids()} | set(kb.flow_ids()) | CONVERSATION
    assert set(training) == expected
    thin = {label: n for label, n in training.items() if n < 15}
    assert not thin, f"fewer than 15 examples: {thin}"


def test_held_out_split_covers_every_label(training: Counter) -> None:
    assert set(_labels(ROOT / "tests" / "nlu")) == set(training)


def test_held_out_examples_are_never_trained_on() -> None:
    overlap = _texts(ROOT / "data" / "nlu") & _texts(ROOT / "tests" / "nlu")
    assert not overlap


def test_domain_declares_every_flow_and_rule(kb: KnowledgeBase) -> None:
    domain = yaml.safe_load((ROOT / "domain.yml").read_text())
    rules = yaml.safe_load((ROOT / "data" / "rules.yml").read_text())["rules"]
    ruled = {step["intent"] for rule in rules for step in rule["steps"] if "intent" in step}
    intents = set(domain["intents"])
    assert set(kb.flow_ids()) | CONVERSATION | {"faq"} == intents
    assert intents | {"nlu_fallback"} == ruled
