"""NLU quality on the held-out split and on real out-of-scope questions: `make eval`.

Runs the trained model on every example in `tests/nlu/` (never trained on) and on the CLINC150
out-of-scope utterances, and decides each message exactly as the bot does
(`bot.nlu.understanding.understand`: intent fallback, out_of_scope, low FAQ confidence). Prints
intent accuracy and macro-F1, FAQ-id accuracy, the worst intents, the most confused pairs and
the out-of-scope rejection rate; `--json FILE` saves the figures, `--sweep` tries thresholds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bot.knowledge.entries import load_knowledge
from bot.nlu.understanding import understand
from bot.settings import ROOT

HELD_OUT = ROOT / "tests" / "nlu"
OOS_FILE = ROOT / "tests" / "eval" / "clinc_oos_dev.json"
REJECTED = "out_of_scope"


def load_held_out(directory: Path = HELD_OUT) -> list[tuple[str, str]]:
    """(text, gold label) pairs; FAQ labels are `faq/<id>`, nlu_fallback counts as out_of_scope."""
    from rasa.shared.nlu.training_data.loading import load_data

    examples = []
    for path in sorted(directory.glob("*.yml")):
        for message in load_data(str(path)).intent_examples:
            label = message.get("intent_response_key") or message.get("intent")
            examples.append((message.get("text"), label))
    return examples


def load_out_of_scope(path: Path = OOS_FILE) -> list[str]:
    return list(json.loads(path.read_text())["utterances"])


def predicted_label(parse: dict[str, Any]) -> str:
    understood = understand(parse, load_knowledge())
    if understood.kind == "fallback":
        return REJECTED
    if understood.kind == "faq":
        return f"faq/{understood.answer_id}"
    return understood.intent


def coarse(label: str) -> str:
    return label.split("/", 1)[0]


def f1_scores(pairs: list[tuple[str, str]]) -> dict[str, float]:
    labels = {gold for gold, _ in pairs}
    scores = {}
    for label in labels:
        tp = sum(1 for g, p in pairs if g == label and p == label)
        fp = sum(1 for g, p in pairs if g != label and p == label)
        fn = sum(1 for g, p in pairs if g == label and p != label)
        precision = tp / (tp + fp) if tp + fp else 0.0
        recall = tp / (tp + fn) if tp + fn else 0.0
        scores[label] = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return scores


async def parse_all(model: Path, texts: list[str]) -> tuple[list[dict[str, Any]], list[float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    parses, seconds = [], []
    for text in texts:
        start = time.perf_counter()
        parses.append(await agent.parse_message(text))
        seconds.append(time.perf_counter() - start)
    return parses, seconds


def report(gold: list[str], parses: list[dict[str, Any]], oos_parses: list[dict[str, Any]]) -> dict:
    predicted = [predicted_label(p) for p in parses]
    pairs = list(zip(gold, predicted, strict=True))
    coarse_pairs = [(coarse(g), coarse(p)) for g, p in pairs]
    coarse_f1 = f1_scores(coarse_pairs)
    fine_f1 = f1_scores(pairs)
    faq_pairs = [(g, p) for g, p in pairs if g.startswith("faq/")]
    in_scope = [(g, p) for g, p in pairs if g != REJECTED]
    rejected = sum(1 for p in oos_parses if predicted_label(p) == REJECTED)
    confusions = Counter((g, p) for g, p in pairs if g != p)
    return {
        "examples": len(pairs),
        "intent_accuracy": sum(g == p for g, p in coarse_pairs) / len(coarse_pairs),
        "intent_macro_f1": statistics.mean(coarse_f1.values()),
        "label_accuracy": sum(g == p for g, p in pairs) / len(pairs),
        "label_macro_f1": statistics.mean(fine_f1.values()),
        "faq_id_accuracy": sum(g == p for g, p in faq_pairs) / len(faq_pairs),
        "in_scope_accuracy": sum(g == p for g, p in in_scope) / len(in_scope),
        "held_out_oos_rejection": _share(pairs, REJECTED),
        "clinc_oos_rejection": rejected / len(oos_parses) if oos_parses else None,
        "clinc_oos_count": len(oos_parses),
        "worst_labels": sorted(fine_f1.items(), key=lambda kv: kv[1])[:8],
        "confused_pairs": [[g, p, n] for (g, p), n in confusions.most_common(12)],
    }


def _share(pairs: list[tuple[str, str]], label: str) -> float | None:
    relevant = [p for g, p in pairs if g == label]
    return sum(p == label for p in relevant) / len(relevant) if relevant else None


def print_report(figures: dict, latency: list[float]) -> None:
    def pct(value: float | None) -> str:
        return "n/a" if value is None else f"{100 * value:.1f}%"

    print(f"held-out examples:            {figures['examples']}")
    print(f"intent accuracy:              {pct(figures['intent_accuracy'])}")
    print(f"intent macro-F1:              {pct(figures['intent_macro_f1'])}")
    print(f"FAQ-id accuracy:              {pct(figures['faq_id_accuracy'])}")
    print(f"in-scope accuracy (exact id): {pct(figures['in_scope_accuracy'])}")
    print(f"label macro-F1 (faq ids):     {pct(figures['label_macro_f1'])}")
    print(f"held-out out_of_scope caught: {pct(figures['held_out_oos_rejection'])}")
    print(f"CLINC150 out-of-scope rejected: {pct(figures['clinc_oos_rejection'])} "
          f"of {figures['clinc_oos_count']}")
    print(f"NLU parse latency: median {1000 * statistics.median(latency):.1f} ms, "
          f"p95 {1000 * sorted(latency)[int(0.95 * len(latency)) - 1]:.1f} ms")
    print("worst labels (F1):")
    for label, score in figures["worst_labels"]:
        print(f"  {pct(score):>7}  {label}")
    print("most confused (gold -> predicted, count):")
    for gold, predicted, count in figures["confused_pairs"]:
        print(f"  {count:3d}  {gold} -> {predicted}")


def sweep(gold: list[str], parses: list[dict], oos_parses: list[dict]) -> None:
    """Re-decide with other intent and FAQ thresholds (both applied at run time)."""
    print("intent  FAQ   in-scope acc  FAQ-id acc  CLINC rejected")
    for intent_threshold in (0.3, 0.4, 0.5, 0.6):
        for faq_threshold in (0.3, 0.4, 0.5, 0.6, 0.7):
            os.environ["INTENT_CONFIDENCE_THRESHOLD"] = str(intent_threshold)
            os.environ["FAQ_CONFIDENCE_THRESHOLD"] = str(faq_threshold)
            figures = report(gold, parses, oos_parses)
            print(f"{intent_threshold:6.2f}  {faq_threshold:4.2f}"
                  f"  {100 * figures['in_scope_accuracy']:11.1f}%"
                  f"  {100 * figures['faq_id_accuracy']:9.1f}%"
                  f"  {100 * figures['clinc_oos_rejection']:13.1f}%")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate the trained NLU model.")
    parser.add_argument("--model", type=Path, default=ROOT / "models" / "helpdesk.tar.gz")
    parser.add_argument("--out-of-scope", type=Path, default=OOS_FILE)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--sweep", action="store_true", help="try other FAQ thresholds")
    args = parser.parse_args(argv)

    held_out = load_held_out()
    oos = load_out_of_scope(args.out_of_scope) if args.out_of_scope.exists() else []
    if not oos:
        print(f"note: {args.out_of_scope} not found; skipping the CLINC150 figure", file=sys.stderr)
    texts = [text for text, _ in held_out] + oos
    parses, latency = asyncio.run(parse_all(args.model, texts))
    gold = [label for _, label in held_out]
    figures = report(gold, parses[: len(gold)], parses[len(gold):])
    print_report(figures, latency)
    if args.sweep:
        sweep(gold, parses[: len(gold)], parses[len(gold):])
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
