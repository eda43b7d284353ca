"""`python -m devstack` runs the local stack; `... emails` prints the emails it sent; `... reset`
forgets its saved state (the next run starts empty)."""

from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "run"
    if command == "run":
        from devstack.stack import main as run

        return run()
    if command == "reset":
        from devstack import settings
        from devstack.persist import Store

        store = Store(settings.state_dir())
        store.clear()
        print(f"devstack: {store.path} removed; the next `make run` starts empty")
        return 0
    if command == "emails":
        from devstack.emails import main as emails

        return emails()
    print("usage: python -m devstack [run | emails | reset]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
