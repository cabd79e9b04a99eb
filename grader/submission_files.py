"""What of a submission its processes see, and whether its files can be graded as its own.

A submission is a folder of the student's (``alice/student.py``), or a file among other
students' files (``submissions/alice.py``). Its processes see its own files and nothing beside
them; a symbolic link among them is refused, since the grader would read the link's target (a
classmate's file, a reference solution) as the student's work.
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

from grader.spec import ROOT, Lab

MAX_FILES = 10_000  # in a submission's folder: more is not a submission


def reference_folders(lab: Lab) -> set[Path]:
    """Where the grader's own solutions and fixtures lie: the project's ``reference/`` and the
    lab's reference folder (a course's lab from ``CWB_LABS`` keeps its own elsewhere)."""
    return {ROOT / "reference", lab.reference_folder.resolve()}


def is_ours(lab: Lab, submission: Path) -> bool:
    """A file of the grader's own (a reference solution or a known-wrong fixture)."""
    return any(submission.is_relative_to(folder) for folder in reference_folders(lab))


def seen(lab: Lab, submission: Path) -> list[Path]:
    """What a submission's processes see of where it lies: its whole folder when the folder is
    the student's own (the file is named like the lab's stub, or it is the grader's own
    fixture); else, in a folder of many students' files (``alice.py``, ``bob.py``), only the
    files named like it (``alice.py``, ``alice.cu``)."""
    if submission.is_dir():
        return [submission]
    stubs = {lab.student_path.name, *(getattr(t, "source", "") for t in lab.tasks)}
    if submission.name in stubs or is_ours(lab, submission):
        return [submission.parent]
    same = sorted(submission.parent.glob(glob.escape(submission.stem) + ".*"))
    return [p for p in same if p.stem == submission.stem] or [submission]


def linked_file(lab: Lab, submission: Path) -> str | None:
    """Why the submission is refused for a symbolic link among its files, or None."""
    if is_ours(lab, submission):
        return None
    paths = []
    for shown in seen(lab, submission):
        paths.append(shown)
        if shown.is_dir() and not shown.is_symlink():
            for folder, dirs, files in os.walk(shown):  # links are listed, not followed
                paths += [Path(folder) / name for name in [*dirs, *files]]
                if len(paths) > MAX_FILES:
                    return f"{shown} holds more than {MAX_FILES} files"
    for path in paths:
        if path.is_symlink():
            try:
                target = os.readlink(path)
            except OSError:
                target = "?"
            return f"{path.name} is a symbolic link (to {target})"
    return None
