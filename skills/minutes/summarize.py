"""Minutes with the model, through services.ai only. A transcript that fits the model's context is written in one
call; a longer one (a 3-hour meeting) is summarised section by section (map), the section summaries are combined
until they fit (reduce), and the minutes are written from them. Every line keeps the transcript time it came from
(a time the model invents is snapped to the nearest one that exists). A malformed answer is asked again once,
then given up with `AnswerError`.

Safety: a transcript is personal data by nature (a consultation above all). `refusal()` says why it may not go to
the model in the request's tier — no endpoint approved for personal data there — and then nothing is sent."""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

from core import tiers
from core.guard.policy import TIER_LABELS_JA
from core.services import Services
from core.skills import SkillRequest
from skills import prompts
from skills.minutes import strings as S
from skills.minutes.record import CONSULTATION, AnswerError, Partial, Record, Times, parse_partial, parse_record
from skills.minutes.settings import MinutesSettings
from skills.minutes.transcript import Transcript, Turn, clock, estimate_tokens, sections, turn_line

log = logging.getLogger(__name__)
SKILL = "minutes"
PROMPT_OVERHEAD = 900          # tokens of the instructions and the JSON shape around the transcript


def tier_of(services: Services, req: SkillRequest) -> str:
    return req.tier or services.ai.guard.settings.GUARD_DEFAULT_TIER


def refusal(services: Services, req: SkillRequest, kind: str) -> str | None:
    """Why this transcript may not go to the model in this request's tier (None: it may)."""
    tier = tier_of(services, req)
    approved = tiers.personal_data_tiers(services)
    if tier in approved:
        return None
    what = S.KIND_JA[kind]
    msg = S.PERSONAL_REFUSED.format(what=what, tier=TIER_LABELS_JA.get(tier, tier))
    if approved:
        msg += S.PERSONAL_REFUSED_CHOOSE.format(tiers="・".join(TIER_LABELS_JA.get(t, t) for t in approved))
    return msg


@dataclass
class Meta:
    """What is known without the model (from Graph or the file): shown as given, never left to the model."""

    title: str = ""
    date: str = ""
    place: str = ""
    attendees: list[str] = field(default_factory=list)


@dataclass
class Written:
    record: Record
    calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    sections: int = 1
    masked_note: str = ""


Progress = Callable[[str], Awaitable[None]]


class Writer:
    def __init__(self, services: Services, req: SkillRequest, settings: MinutesSettings,
                 progress: Progress | None = None) -> None:
        self.services = services
        self.req = req
        self.settings = settings
        self.progress = progress
        self.calls = 0
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.masked_note = ""

    @property
    def single_budget(self) -> int:
        """Transcript tokens that fit in one call with the instructions and the answer."""
        s = self.settings
        return s.MINUTES_CONTEXT_TOKENS - PROMPT_OVERHEAD - s.MINUTES_ANSWER_TOKENS

    async def write(self, tr: Transcript, kind: str, meta: Meta) -> Written:
        lines = [turn_line(t) for t in tr.turns]
        known = [t.start for t in tr.turns]
        if estimate_tokens("\n".join(lines)) <= self.single_budget:
            record = await self._final(lines, known, kind, meta, S.INPUT_TRANSCRIPT)
            return self._written(record, 1)
        groups = sections(tr.turns, self.settings.section_tokens)
        partials: list[Partial] = []
        for i, group in enumerate(groups, 1):
            if self.progress:
                await self.progress(S.SECTION_PROGRESS.format(i=i, n=len(groups), at=clock(group[0].start)))
            partials.append(await self._section(group, i, len(groups)))
        partials = await self._combine(partials)
        plines = _fit([ln for p in partials for ln in p.lines()], self.single_budget)
        pknown = [t for p in partials for t in _times(p)]
        if self.progress:
            await self.progress(S.COMBINE_PROGRESS)
        record = await self._final(plines, pknown, kind, meta, S.INPUT_SECTIONS)
        return self._written(record, len(groups))

    def _written(self, record: Record, n: int) -> Written:
        return Written(record, self.calls, self.prompt_tokens, self.completion_tokens, n, self.masked_note)

    async def _section(self, group: list[Turn], i: int, n: int) -> Partial:
        span = f"{clock(group[0].start)}～{clock(group[-1].end)}"
        system = prompts.render(SKILL, "section", index=str(i), total=str(n), span=span)
        times = Times([t.start for t in group], group[0].start)
        body = "\n".join(turn_line(t) for t in group)
        return await self._ask(system, body, lambda text: parse_partial(text, times), step="section")

    async def _combine(self, partials: list[Partial]) -> list[Partial]:
        """Combine section summaries in groups until all of them fit in one call (the reduce step)."""
        budget = self.single_budget
        while estimate_tokens("\n".join(ln for p in partials for ln in p.lines())) > budget and len(partials) > 1:
            groups: list[list[Partial]] = [[]]
            used = 0
            for p in partials:
                n = estimate_tokens("\n".join(p.lines()))
                if groups[-1] and used + n > budget:
                    groups.append([])
                    used = 0
                groups[-1].append(p)
                used += n
            if len(groups) == len(partials):      # no two fit together: combining cannot shrink them further
                break
            out = []
            for g in groups:
                if len(g) == 1:
                    out.append(g[0])
                    continue
                times = Times([t for p in g for t in _times(p)])
                body = "\n".join(ln for p in g for ln in p.lines())
                out.append(await self._ask(prompts.load(SKILL, "combine"), body,
                                           lambda text, times=times: parse_partial(text, times), step="combine"))
            partials = out
        return partials

    async def _final(self, lines: list[str], known: list[float], kind: str, meta: Meta, input_kind: str) -> Record:
        name = "consultation" if kind == CONSULTATION else "minutes"
        system = prompts.render(SKILL, name, input_kind=input_kind, known=_known(meta))
        times = Times(known, known[0] if known else 0.0)
        record = await self._ask(system, "\n".join(lines), lambda text: parse_record(text, kind, times),
                                 step=None)
        return _with_meta(record, meta)

    async def _ask(self, system: str, body: str, parse, *, step: str | None):
        s = self.settings
        messages = [{"role": "system", "content": system}, {"role": "user", "content": body}]
        tier = tier_of(self.services, self.req)
        last_error = ""
        for attempt in (0, 1):
            ans = await self.services.ai.chat(self.req, SKILL, messages, tier=tier, temperature=0,
                                              max_tokens=s.MINUTES_ANSWER_TOKENS,
                                              timeout=s.MINUTES_LLM_TIMEOUT_SECONDS,
                                              step=(step or "retry") if (step or attempt) else None)
            self.calls += 1
            self.prompt_tokens += ans.usage.prompt_tokens
            self.completion_tokens += ans.usage.completion_tokens
            self.masked_note = ans.masked_note or self.masked_note
            try:
                return parse(ans.text)
            except AnswerError as e:
                last_error = e.detail
                log.info("minutes: unreadable model answer (%s), attempt %d", e.detail, attempt + 1)
                # asked again without the bad answer, so that the retry fits in the context like the first call
                messages = [messages[0], {"role": "user", "content": f"{body}\n\n{S.RETRY_PROMPT.format(error=e.detail)}"}]
        raise AnswerError(last_error)


def _fit(lines: list[str], budget: int) -> list[str]:
    """Lines within the budget: when combining could not shrink them enough, every other 発言要旨 line is dropped
    (evenly over the meeting) until they fit; decisions and actions are kept."""
    keep = list(lines)
    while estimate_tokens("\n".join(keep)) > budget:
        points = [i for i, ln in enumerate(keep) if "（決定）" not in ln and "（対応）" not in ln]
        if len(points) < 2:
            return keep[-max(1, len(keep) // 2):] if len(keep) > 1 else [keep[0][:budget]]
        drop = set(points[1::2])
        keep = [ln for i, ln in enumerate(keep) if i not in drop]
    return keep


def _times(p: Partial) -> list[float]:
    from skills.minutes.transcript import parse_clock

    stamps = [x.t for x in (*p.points, *p.decisions)] + [a.t for a in p.actions]
    return [v for v in (parse_clock(s) for s in stamps) if v is not None]


def _known(meta: Meta) -> str:
    facts = [f"- {k}: {v}" for k, v in (("会議名", meta.title), ("日時", meta.date), ("場所", meta.place),
                                         ("出席者（文字起こしの発言者）", "、".join(meta.attendees))) if v]
    return ("分かっている事項（このとおり書いてください）:\n" + "\n".join(facts)) if facts else ""


def _with_meta(record: Record, meta: Meta) -> Record:
    record.title = meta.title or record.title
    record.date = meta.date or record.date
    record.place = meta.place or record.place
    names = list(dict.fromkeys([*meta.attendees, *record.attendees]))
    record.attendees = names
    return record


def naive_tokens(tr: Transcript, settings: MinutesSettings) -> int:
    """What one call with the whole transcript would need (instructions + transcript + answer), for the bench."""
    return PROMPT_OVERHEAD + estimate_tokens("\n".join(turn_line(t) for t in tr.turns)) + settings.MINUTES_ANSWER_TOKENS
