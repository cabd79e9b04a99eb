"""``cwb profile LAB`` for labs whose profile is the CUPTI trace of one timed call (lab 1).

    python -m grader.profile_trace --lab lab1 [--submission PATH]

Grades the submission as ``cwb run`` does, keeping the traced call as
``reports/LAB-trace.json.gz`` (ui.perfetto.dev opens it), and says plainly when no trace was
captured and why (no GPU; the submission was not correct, so it was not timed).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import labs
from grader.runner import Grader, Options
from grader.spec import ROOT


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", required=True)
    parser.add_argument("--submission", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "reports")
    args = parser.parse_args(argv)
    lab = labs.get(args.lab)
    trace = args.out / f"{lab.name}-trace.json.gz"
    trace.unlink(missing_ok=True)  # never point at a trace an earlier run left
    result = Grader(lab, Options(trace_dir=args.out)).grade(args.submission or lab.student_path)
    print(result.headline)
    if trace.is_file():
        print(f"CUPTI trace of one timed call: {trace} (open it in ui.perfetto.dev)")
        return 0
    why = "; ".join(result.not_measured) or (
        result.failure.title if result.failure else "no benchmark was traced"
    )
    print(f"No trace was captured: {why}.")
    return 1


if __name__ == "__main__":
    sys.exit(main())
