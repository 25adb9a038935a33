"""Settings of 文書作成支援."""
from __future__ import annotations

from core.settings import AppSettings, csv_list


class DraftingSettings(AppSettings):
    section = "drafting"

    DRAFT_REFERENCE_SETS: str = ""
    """Knowledge sets (comma separated) searched for past 議会答弁 and plans to cite in answer drafts; empty = none."""
    DRAFT_REFERENCE_K: int = 3
    """How many reference passages are given to the model for one 議会答弁 draft."""
    DRAFT_REFERENCE_CHARS: int = 600
    """Characters of reference text shared among the passages of one 議会答弁 prompt (keeps it ≤ 2,000 tokens)."""
    DRAFT_AUTO_REPAIR: bool = True
    """When a generated draft breaks its type's layout, ask the model once to repair it before flagging it."""
    DRAFT_MAX_INPUT_CHARS: int = 4000
    """Longest accepted text for one field or revision instruction (characters)."""

    @property
    def reference_sets(self) -> list[str]:
        return csv_list(self.DRAFT_REFERENCE_SETS)
