"""The skill contract's channels (core/skills.py, core/router.py): a skill that alone serves a channel gets every
activity of it, and nothing of it is reachable from the staff channels. Language detection."""
from __future__ import annotations

import pytest

from core import router
from core.skills import Command, Registry, Skill, Verb
from skills.citizen.language import detect
from tests.harness import RecorderPort, make_request, make_services


def _skill(name: str, handler, **kw) -> Skill:
    return Skill(name=name, title=name, description=name, commands=kw.pop("commands", []), handler=handler, **kw)


async def test_a_channel_skill_takes_every_activity_of_its_channels_and_nothing_else(db):
    services = make_services(db)
    seen: list[tuple[str, str]] = []

    async def resident(req, reply, _services):
        seen.append(("resident", req.verb or req.text))
        await reply.send_text("resident")

    async def staff(req, reply, _services):
        seen.append(("staff", req.verb or req.text))
        await reply.send_text("staff")

    registry = Registry()
    registry.add(_skill("help", staff, role="help"))
    registry.add(_skill("ask", staff, commands=[Command("ask", "ask", "ask")], keywords=("ごみ",),
                        verbs={"ask.go": Verb(staff)}))
    registry.add(_skill("resident", resident, channels=lambda _s: ("WebChat", "directline"), free_text=False,
                        verbs={"resident.more": Verb(resident)}))
    services.registry = registry
    for channel in ("webchat", "directline"):
        for kw in ({"text": "/ask ごみ"}, {"text": "ごみの日"}, {"verb": "ask.go"}, {"text": "/help"}):
            port = RecorderPort()
            assert await router.dispatch(make_request(channel=channel, **kw), port, services) == "resident"
            assert port.texts() == ["resident"]
    # Teams: the staff skills as before; the channel skill's verb is unknown there and it takes no free text
    assert await router.dispatch(make_request("/ask ごみ"), RecorderPort(), services) == "ask"
    assert await router.dispatch(make_request("ごみの日"), RecorderPort(), services) == "ask"
    port = RecorderPort()
    assert await router.dispatch(make_request(verb="resident.more"), port, services) == "-"
    assert port.texts() == [router.UNKNOWN_VERB]
    assert ("resident", "resident.more") not in seen
    assert registry.for_channel("msteams", services) is None


async def test_a_channel_skill_that_is_not_ready_says_so(db):
    services = make_services(db)
    registry = Registry()
    registry.add(Skill(name="resident", title="r", description="r", commands=[], handler=None,
                       channels=("webchat",)))
    services.registry = registry
    port = RecorderPort()
    await router.dispatch(make_request("こんにちは", channel="webchat"), port, services)
    assert port.texts() == [router.CHANNEL_NOT_READY]


def test_a_channel_skill_declares_no_commands_role_or_files():
    async def h(req, reply, services):
        return None

    registry = Registry()
    with pytest.raises(ValueError, match="serves its own channels"):
        registry.add(_skill("resident", h, channels=("webchat",), commands=[Command("r", "r", "r")]))


async def test_the_citizen_skill_refuses_a_request_from_teams_that_reaches_it(db):
    """A model's tool call naming the skill (chat) could hand it a Teams request: it says so and does nothing."""
    from skills.citizen import SKILL
    from skills.citizen import strings as S

    services = make_services(db)
    port = RecorderPort()
    await SKILL.handler(make_request("粗大ごみ"), port, services)
    assert port.texts() == [S.NOT_SERVED]


@pytest.mark.parametrize("text, lang", [
    ("粗大ごみの申込みはどうすればいいですか", "ja"), ("住民票 手数料", "ja"), ("PDFの申請書はどこ？", "ja"),
    ("やさしい日本語でおしえてください。ごみはいつ出しますか", "easy_ja"),
    ("How do I throw away 粗大ごみ?", "en"), ("粗大垃圾怎么扔？", "zh"), ("儿童补贴什么时候发？", "zh"),
    ("대형 쓰레기는 어떻게 버려요?", "ko"), ("Tôi muốn vứt rác cồng kềnh", "vi"), ("", "ja"),
    # Traditional Chinese (Taiwan, Hong Kong) was read as Japanese before its own forms were listed, then answered in
    # Simplified Chinese; it has its own texts now
    ("大型家具丟在這裡可以嗎？", "zh_hant"), ("證明書 申請", "zh_hant"), ("你好", "zh"), ("兒童醫療費補助", "zh_hant"),
    ("請問垃圾要怎麼丟？", "zh_hant"), ("请问垃圾怎么扔？", "zh"),
    # Han characters Japanese shares with Chinese keep a kana-less Japanese question Japanese
    ("会議 日程", "ja"), ("領収書 再発行", "ja"), ("該当 書類", "ja"), ("廃棄物 処理", "ja"),
])
def test_language_of_the_question(text, lang):
    assert detect(text) == lang


@pytest.mark.parametrize("name", ["answer_system", "rewrite_system", "rerank_system", "scope_system"])
def test_the_citizen_prompts_pass_the_masking_untouched(name):
    """The guard masks what it takes for personal data in every message, system prompts included: a prompt it
    changed would reach the model broken (a JSON key taken for a name became ［氏名1］ once)."""
    from core.guard.pii import PiiDetector
    from skills.prompts import load

    assert PiiDetector().detect(load("citizen", name)) == []


@pytest.mark.parametrize("locale, lang", [("en-US", "en"), ("zh-TW", "zh_hant"), ("zh-Hant-TW", "zh_hant"),
                                          ("zh-HK", "zh_hant"), ("zh_Hant", "zh_hant"), ("zh-Hans-TW", "zh"),
                                          ("zh-CN", "zh"), ("zh", "zh"), ("zh_Hans_CN", "zh"), ("ko", "ko"),
                                          ("vi-VN", "vi"), ("ja-JP", "ja"), ("fr-FR", "ja"), ("", "ja"), (None, "ja"),
                                          (42, "ja")])
def test_the_welcome_language_follows_the_browser_locale(locale, lang):
    from skills.citizen.language import of_locale

    assert of_locale(locale) == lang


def test_every_answer_language_has_every_text_around_an_answer():
    """A language the detector or the locale can give must have each frame text (a missing one is a KeyError in the
    middle of a resident's answer), in its own script: Traditional texts hold no Simplified-only form."""
    from skills.citizen import strings as S
    from skills.citizen.language import _SIMPLIFIED, _TRADITIONAL

    frames = {"AI_NOTE": S.AI_NOTE, "SOURCES": S.SOURCES, "CONTACT": S.CONTACT, "NOT_FOUND": S.NOT_FOUND,
              "HANDED_OFF": S.HANDED_OFF, "AI_BUSY": S.AI_BUSY, "WELCOME": S.WELCOME}
    for name, texts in frames.items():
        assert set(texts) == set(S.LANGUAGES), name
        assert not _SIMPLIFIED.search(texts["zh_hant"]), (name, texts["zh_hant"])
        assert not _TRADITIONAL.search(texts["zh"]), (name, texts["zh"])
    assert set(S.LANGUAGES) | {"easy_ja"} == set(S.LANGUAGE_NAMES)
