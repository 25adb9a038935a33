"""A SharePoint/OneDrive sharing link sent as free text with 「点検」「チェック」「判定」 reaches 画像点検 in both modes.

Why it did not with an LLM configured: the router handed every free text to the "chat" role, and the model chose a
tool from the skills' descriptions alone (the photo skill's said nothing of links) while seeing the link with its
digits masked by the guard (…/EhXk3_［電話1］?e=…). The skill now declares a text rule (Skill.rules: the link's
pattern and the words), which the router checks before the model and the keywords. The model stand-in here answers
with a tool call to another skill, as a model that misread the message would: the message must still reach the photo
skill, and the model is not asked at all."""
from __future__ import annotations

import pytest

from core import router
from core.graph import GraphService
from skills.images.settings import ImagesSettings
from tests.harness import RecorderPort, make_request, make_services
from tests.skills.images import samples
from tests.skills.images.conftest import OPENED
from tests.skills.images.test_images import texts_of
from tests.skills.images.test_images_link import FOLDER, PHOTO, sp  # noqa: F401 - the stand-in fixture
from tests.standins.graph_sharepoint import FixedCredential

WORD_LINK = "https://amagasaki.sharepoint.com/:w:/s/douro/EwDoc9012?e=QwE456"


def services_on(db, sp, llm=None):  # noqa: F811 - sp is the fixture's value
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": llm.base_url} if llm else None
    services = make_services(db, llm_env=env)
    services.settings.put(ImagesSettings(_env_file=None))
    services.graph = GraphService(FixedCredential(), sp.base_url)
    OPENED.append(services)
    return services


@pytest.mark.parametrize("words", ["この写真を点検してください {link}", "{link} チェックお願いします",
                                   "損傷の判定をお願いします。{link}", "ﾁｪｯｸして {link}"])
@pytest.mark.parametrize("mode", ["offline", "llm"])
async def test_a_sharing_link_with_a_check_word_reaches_the_photo_skill_in_both_modes(sqlite_db, sp, llm,  # noqa: F811
                                                                                       words, mode):
    # a model that misreads the message when asked to route it; the vision calls get a judgement
    llm.default = lambda body: ({"tool": "analysis", "args": {"request": "分析して"}} if body.get("tools")
                                else {"text": samples.answer()})
    services = services_on(sqlite_db, sp, llm if mode == "llm" else None)
    port = RecorderPort()
    handled = await router.dispatch(make_request(words.format(link=FOLDER)), port, services)
    assert handled == "images"
    assert [texts_of(c)[0] for c in port.cards()[:3]] == ["写真 1/3：現場1.jpg", "写真 2/3：現場2.png",
                                                          "写真 3/3：IMG0003"]
    assert not any(r.get("tools") for r in llm.chat_requests())        # the model was not asked to route it


async def test_a_link_to_one_photo_and_a_plain_photo_address_are_claimed_too(sqlite_db, sp, llm):  # noqa: F811
    sp.share(PHOTO, "P1")
    services = services_on(sqlite_db, sp, llm)
    port = RecorderPort()
    assert await router.dispatch(make_request(f"判定して {PHOTO}"), port, services) == "images"
    assert texts_of(port.cards()[0])[0] == "写真 1/1：現場1.jpg"
    rule = services.registry.skill("images").rules[0]
    assert rule.matches("https://amagasaki.sharepoint.com/sites/douro/Shared%20Documents/現場/IMG_0001.JPG を点検")
    assert not rule.matches("https://example.com/:f:/s/douro/Ek1 を点検")           # not SharePoint
    assert not rule.matches(f"{FOLDER} をお送りします")                               # no word asking for a check


async def test_what_the_rule_does_not_claim_still_goes_to_the_model(sqlite_db, sp, llm):  # noqa: F811
    llm.default = {"text": "承知しました。"}
    services = services_on(sqlite_db, sp, llm)
    for text in (f"この文書をチェックして {WORD_LINK}",       # a Word file: not a photo link
                 f"{FOLDER} を共有します",                     # a folder without a check word
                 "道路のひび割れの点検基準を教えて"):           # no link: the model decides, as before
        port = RecorderPort()
        assert await router.dispatch(make_request(text), port, services) == "chat", text
    assert len(llm.chat_requests()) == 3
    assert not any(r["path"].startswith("/v1.0/shares/") for r in sp.requests)


async def test_offline_the_keywords_alone_did_not_take_a_link_with_check_words(sqlite_db, sp):  # noqa: F811
    """Offline only 「点検」 was a keyword of the photo skill: a link with 「チェック」 or 「判定」 found no skill by the
    keyword rule (the help card answered); the text rule takes it."""
    services = services_on(sqlite_db, sp)
    for text in (f"このフォルダーの写真をチェックしてください {FOLDER}", f"判定してください {FOLDER}"):
        assert router.keyword_skill(services.registry, text) is None
        port = RecorderPort()
        assert await router.dispatch(make_request(text), port, services) == "images"
        assert len(port.cards()) == 4
