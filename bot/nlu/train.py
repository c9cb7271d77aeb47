"""Train the model when it is missing or stale: `python -m bot.nlu.train` (what `make train` runs).

Stale means a training input changed since the model was trained: config, domain, anything
under data/, the spaCy pipeline's entity patterns, or the featurizer code. Answer texts in
knowledge/ are not training inputs (see bot/nlu/generate.py), so editing one never retrains.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

from bot.nlu.generate import SPACY_DIR
from bot.settings import ROOT

MODEL = ROOT / "models" / "helpdesk.tar.gz"
FINGERPRINT = MODEL.with_name("helpdesk.fingerprint")


def training_inputs() -> list[Path]:
    return [
        ROOT / "config.yml",
        ROOT / "domain.yml",
        *sorted((ROOT / "data").rglob("*.yml")),
        SPACY_DIR / "entity_ruler" / "patterns.jsonl",
        ROOT / "bot" / "rasa_plugins" / "sentence_embeddings.py",
    ]


def fingerprint() -> str:
    digest = hashlib.sha256()
    for path in training_inputs():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def is_current() -> bool:
    return MODEL.exists() and FINGERPRINT.exists() and FINGERPRINT.read_text() == fingerprint()


def main() -> int:
    if is_current():
        print(f"{MODEL.relative_to(ROOT)} is up to date.")
        return 0
    expected = fingerprint()
    rasa = Path(sys.executable).parent / "rasa"
    command = [str(rasa), "train", "--fixed-model-name", "helpdesk", "--out", "models"]
    result = subprocess.run(command, cwd=ROOT)
    if result.returncode == 0:
        FINGERPRINT.write_text(expected)
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
