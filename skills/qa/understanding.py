"""Question understanding with an LLM (issue #15): the retrieval step of /ask.

The steps (rewrite into more search queries, reciprocal rank fusion, re-ranking by the rerank endpoint or the LLM)
are `core.knowledge.answer`, shared with the residents' chatbot; this module gives them /ask's prompts and settings
(QA_REWRITE, QA_RERANK, QA_TOP_K, QA_RERANK_CANDIDATES, QA_STEP_TIMEOUT_SECONDS)."""
from __future__ import annotations

from typing import Sequence

from core.knowledge.answer import (
    Retrieval,
    RetrievalOptions,
    RetrievalPrompts,
    WeakRule,
    apply_order,
    fuse,
)
from core.knowledge.answer import retrieve as retrieve_passages
from core.skills import SkillRequest
from skills.prompts import load
from skills.qa.service import settings_of

__all__ = ["Retrieval", "apply_order", "fuse", "options", "retrieve"]


def options(services) -> RetrievalOptions:
    s = settings_of(services)
    return RetrievalOptions(skill="qa", top_k=s.QA_TOP_K, rewrite=s.QA_REWRITE, rerank=s.QA_RERANK,
                            candidates=s.QA_RERANK_CANDIDATES, step_timeout=s.QA_STEP_TIMEOUT_SECONDS,
                            prompts=RetrievalPrompts(rewrite_system=load("qa", "rewrite_system"),
                                                     rerank_system=load("qa", "rerank_system"),
                                                     rerank_user=load("qa", "rerank_user")))


async def retrieve(req: SkillRequest, services, question: str, sets: Sequence[str], *, vectors: bool,
                   rule: WeakRule) -> Retrieval:
    return await retrieve_passages(req, services, question, sets, vectors=vectors, rule=rule,
                                   options=options(services))
