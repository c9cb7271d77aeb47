"""Components Rasa loads by name: the sentence encoder, the socket.io channel, the lock and
tracker stores.

Importing this package is the first thing Rasa does with our code when it builds the NLU
pipeline, so a plain `rasa train` (or `rasa run`) on a fresh clone stops here with one line,
rather than with spaCy's advice to download a model that does not exist: config.yml names the
spaCy pipeline `make generate` builds from knowledge/.
"""

from pathlib import Path

SPACY_PIPELINE = Path(__file__).resolve().parents[2] / "build" / "spacy_pipeline"
if not (SPACY_PIPELINE / "config.cfg").exists():
    raise SystemExit(f"{SPACY_PIPELINE} is missing: run `make generate` first "
                     "(or `make train`, which generates and trains).")
