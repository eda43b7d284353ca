"""`python -m devstack` runs the local stack; `python -m devstack emails` prints the emails it sent."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    if command == "run":
        from devstack.stack import main as run

        return run()
    if command == "emails":
        from devstack.emails import main as emails

        return emails()
    print("usage: python -m devstack [run | emails]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
