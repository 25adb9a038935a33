"""A function for core.search.extract.run_isolated that leaves work for after its answer (after_reply): the work
sleeps `sleep` seconds, then writes `path`. Used by test_analysis_deferred_copy to prove that the caller gets the
answer without waiting for that work, and that the work stays under the child's wall-clock deadline."""
from __future__ import annotations

import os
import time
from pathlib import Path

from core.search.extract import after_reply


def answer_then_work(_data: bytes, args: dict) -> dict:
    def work() -> None:
        time.sleep(float(args["sleep"]))
        Path(args["path"]).write_text(str(os.getpid()), encoding="utf-8")
    after_reply(work)
    return {"pid": os.getpid()}
