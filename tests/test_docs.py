"""The documentation a user gets with the repository: it points only at files the repository
holds, and the grading protocol names code that exists."""

import re
from pathlib import Path

import labs

ROOT = Path(__file__).parent.parent
PROTOCOL = ROOT / "docs" / "grading-protocol.md"


def _user_docs() -> list[Path]:
    handouts = [labs.get(name).handout for name in labs.names()]
    return [ROOT / "README.md", PROTOCOL, *handouts]


def test_no_document_points_outside_the_repository():
    for doc in _user_docs():
        assert "../shared" not in doc.read_text(), f"{doc.relative_to(ROOT)} points at ../shared"


def test_every_relative_link_resolves():
    for doc in _user_docs():
        prose = re.sub(r"```.*?```|`[^`]*`", "", doc.read_text(), flags=re.S)  # not code
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", prose):
            assert (doc.parent / target).exists(), f"{doc.relative_to(ROOT)} links to {target}"


def test_the_readme_and_every_handout_point_at_the_protocol():
    assert "docs/grading-protocol.md" in (ROOT / "README.md").read_text()
    for name in ("lab0", "lab1", "lab2"):
        assert "docs/grading-protocol.md" in labs.get(name).handout.read_text(), name


def test_the_protocol_names_only_code_that_exists_and_keeps_the_containment_section():
    text = PROTOCOL.read_text()
    assert re.search(r"^## Containment \(sandbox\)$", text, re.M)
    named = set(re.findall(r"`((?:grader|docs|reference)/[\w./-]+)`", text))
    assert len(named) > 10
    for path in named:
        if "<" not in path:
            assert (ROOT / path).exists(), path
    table = text.split("| attack |")[1].split("\n\n")[0]
    for row in table.splitlines()[2:]:  # the fixtures column of the table of attacks
        for fixture in re.findall(r"`(\w+)`", row.split("|")[2]):
            assert (ROOT / "reference/lab0_vecadd/wrong" / f"{fixture}.py").is_file(), fixture
