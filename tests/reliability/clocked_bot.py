"""`python -m bot` with its clock moved: `python -m tests.reliability.clocked_bot` runs bot.__main__.main([]) — the
whole app, its scheduler and every job — after shifting core.services.Clock by BOT_CLOCK_AT (ISO 8601, the time it
is at start) so a test can put the process on a business-day morning. Time still runs: only the offset is added."""
from __future__ import annotations

import os
import sys
from datetime import datetime, timezone

from core import services


def main() -> int:
    at = datetime.fromisoformat(os.environ["BOT_CLOCK_AT"])
    offset = at - datetime.now(timezone.utc)
    real = services.Clock.now

    def shifted(self) -> datetime:
        return real(self) + offset

    services.Clock.now = shifted  # type: ignore[method-assign]
    from bot.__main__ import main as bot_main

    return bot_main([])


if __name__ == "__main__":
    sys.exit(main())
