"""``python3 -m labs names`` prints the lab names; ``python3 -m labs help`` the Makefile's help
lines for them. Standard library only: the Makefile runs this before .venv exists."""

from __future__ import annotations

import sys

from labs import folder_name, registry


def main(argv: list[str]) -> int:
    what = argv[1] if len(argv) > 1 else "names"
    if what == "names":
        print(" ".join(registry()))
    elif what == "help":
        for name, entry in registry().items():
            print(f"make {name:<15} {entry.summary}")
            print(f"{'':<20} grades labs/{folder_name(name)}/student.py -> reports/{name}.html")
        print(
            f"make {'profile-LAB':<15} LAB under its profiler, where it has one (cwb profile LAB)"
        )
    else:
        print(f"usage: python3 -m labs [names|help], not {what!r}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
