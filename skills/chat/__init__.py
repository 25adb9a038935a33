"""Free text in chat with an LLM configured: the model chooses a skill (skills are tools) or answers directly.

One streaming call does both: if the model streams text, it is the answer (streamed to the user in personal
chat); if it streams a tool call, the chosen skill handles the original request."""
from __future__ import annotations

import logging

from cards.common import card, text
from core.ai import AIFailed, AIRefused
from core.skills import ReplyPort, Skill, SkillRequest
from skills.prompts import load

log = logging.getLogger(__name__)


def tools_for(registry) -> list[dict]:
    """Every ready skill that accepts free text, described from the registry."""
    tools = []
    for s in registry.skills:
        if s.role or not (s.serves and s.free_text):
            continue
        desc = s.description + (" 例: " + " / ".join(s.examples) if s.examples else "")
        tools.append({"type": "function", "function": {
            "name": s.name, "description": desc[:1000],
            "parameters": {"type": "object", "properties": {
                "request": {"type": "string", "description": "職員の依頼内容（原文のまま）"}},
                "required": ["request"]}}})
    return tools


async def handle(req: SkillRequest, reply: ReplyPort, services) -> None:
    tools = tools_for(services.registry)
    messages = [{"role": "system", "content": load("chat", "system")},
                {"role": "user", "content": req.text}]
    try:
        stream = await services.ai.stream(req, "chat", messages, tools=tools or None)
        it = stream.__aiter__()
        first = ""
        async for delta in it:          # wait for the first text: a tool call streams none
            if delta:
                first = delta
                break
        if first:
            async def rest():
                yield first
                async for d in it:
                    yield d
            note = stream.answer.masked_note          # known before the first token: masking happens first
            await reply.stream(rest(), ai_generated=True, feedback=True,
                               final_card=card([text(note, size="Small", subtle=True)]) if note else None)
            return
        calls = stream.answer.tool_calls
    except AIRefused as e:
        await reply.send_text(e.message_ja)
        return
    except AIFailed as e:
        await reply.send_text(e.message_ja)
        return
    target = services.registry.skill(calls[0].name) if calls else None
    if target is None or target.handler is None or target.role or not target.serves:
        await reply.send_text("ご依頼の内容を読み取れませんでした。言い換えて、もう一度お試しください。"
                              "使える機能は /help でご覧いただけます。")
        return
    await target.handler(req, reply, services)


SKILL = Skill(name="chat", title="相談", description="一般的な相談に答えます。", commands=[], handler=handle,
              free_text=False, role="chat")
