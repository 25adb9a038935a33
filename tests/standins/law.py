"""Loopback stand-in for the e-Gov 法令API Version 2 (``/api/2/keyword``, ``/api/2/laws``, ``/api/2/law_data/{id}``).

Response shapes follow the published OpenAPI document (lawapi-v2.yaml 2.1.x: ``keyword_response``,
``laws_response``, ``law_data_response``, ``error_info`` and their examples):

* ``/keyword`` → ``{total_count, sentence_count, next_offset, items[{law_info, revision_info,
  sentences[{position, text}]}]}``, hits wrapped in ``<span>`` (or ``highlight_tag``), ``position`` in ``elm`` form
  (``MainProvision-Article_50-Paragraph_1-Item_2``), ``limit`` = total sentences, ``sentences_limit`` per law,
  ``sentence_text_size`` truncates ``text``. Keyword: terms separated by spaces or `` AND `` must all occur.
* ``/laws`` → ``{total_count, count, next_offset, laws[{law_info, revision_info, current_revision_info}]}``;
  ``law_title`` matches title or abbreviation (partial), ``law_id`` partial.
* ``/law_data/{law_id or law_num}`` → ``{attached_files_info, law_info, revision_info, law_full_text}``; the body
  is the JSON (詳細版) ``{tag, attr, children}`` tree. With ``elm`` the root is the selected element (as in the
  spec's example, whose Base64 body starts at ``<Paragraph>``); without it the root is ``Law``.
* Errors are ``{code, message}``: 500 → ``500001 サーバ内処理で異常が発生しました。`` (from the spec); an unknown law or
  element → 404 with our own code ``404001`` (the spec does not document this one).

The built-in corpus holds a few real articles, abridged, typed for testing (not an authoritative source; the
revision ids and dates are illustrative). Switches: ``delay`` (seconds before answering), ``fail_status`` (answer
every request with that status and the spec's error JSON). Every request is recorded in ``requests``.

    async with LawStandIn() as law:            # or: law = await LawStandIn().start(); … await law.stop()
        client = LawClient(LawSettings(EGOV_LAW_API_BASE=law.base_url))
"""
from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.standins.base import LoopbackServer

FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
KANJI = "〇一二三四五六七八九"


def _kanji(n: int) -> str:
    out = []
    for unit, value in (("千", 1000), ("百", 100), ("十", 10)):
        digit, n = divmod(n, value)
        if digit:
            out.append(("" if digit == 1 else KANJI[digit]) + unit)
    if n:
        out.append(KANJI[n])
    return "".join(out)


@dataclass
class Paragraph:
    num: int
    text: str
    items: list[str] = field(default_factory=list)     # item sentences, numbered 一, 二, …


@dataclass
class Article:
    num: str                  # "2", "9_2"
    caption: str
    paragraphs: list[Paragraph]


@dataclass
class Law:
    law_id: str
    law_num: str
    law_title: str
    law_title_kana: str
    law_type: str
    era: str
    year: int
    num: str
    promulgation_date: str
    category: str
    abbrev: str | None
    articles: list[Article]

    @property
    def revision_id(self) -> str:
        return f"{self.law_id}_20240401_000000000000000"

    def law_info(self) -> dict:
        return {"law_type": self.law_type, "law_id": self.law_id, "law_num": self.law_num, "law_num_era": self.era,
                "law_num_year": self.year, "law_num_type": self.law_type, "law_num_num": self.num,
                "promulgation_date": self.promulgation_date}

    def revision_info(self) -> dict:
        return {"law_revision_id": self.revision_id, "law_type": self.law_type, "law_title": self.law_title,
                "law_title_kana": self.law_title_kana, "abbrev": self.abbrev, "category": self.category,
                "updated": "2024-04-19T13:42:44+09:00", "amendment_promulgate_date": "2024-03-30",
                "amendment_enforcement_date": "2024-04-01", "amendment_enforcement_comment": None,
                "amendment_scheduled_enforcement_date": None, "amendment_law_id": None,
                "amendment_law_title": None, "amendment_law_title_kana": None, "amendment_law_num": None,
                "amendment_type": "3", "repeal_status": "None", "repeal_date": None, "remain_in_force": False,
                "mission": "New", "current_revision_status": "CurrentEnforced"}


def _node(tag: str, attr: dict | str, children: list) -> dict:
    return {"tag": tag, "attr": attr, "children": children}


def _sentence(text: str) -> dict:
    return _node("Sentence", {"Num": "1", "WritingMode": "vertical"}, [text])


def article_node(article: Article) -> dict:
    children: list[Any] = []
    if article.caption:
        children.append(_node("ArticleCaption", {}, [article.caption]))
    first, *branches = article.num.split("_")
    label = f"第{_kanji(int(first))}条" + "".join(f"の{_kanji(int(b))}" for b in branches)
    children.append(_node("ArticleTitle", {}, [label]))
    for para in article.paragraphs:
        pchildren: list[Any] = [
            _node("ParagraphNum", {}, [] if para.num == 1 else [str(para.num).translate(FULLWIDTH)]),
            _node("ParagraphSentence", {}, [_sentence(para.text)]),
        ]
        for i, item in enumerate(para.items, start=1):
            pchildren.append(_node("Item", {"Delete": "false", "Hide": "false", "Num": str(i)}, [
                _node("ItemTitle", {}, [_kanji(i)]),
                _node("ItemSentence", {}, [_sentence(item)]),
            ]))
        children.append(_node("Paragraph", {"Hide": "false", "Num": str(para.num), "OldStyle": "false"}, pchildren))
    return _node("Article", {"Delete": "false", "Hide": "false", "Num": article.num}, children)


def law_node(law: Law) -> dict:
    return _node("Law", {"Era": law.era, "Lang": "ja", "LawType": law.law_type, "Num": law.num.lstrip("0"),
                         "Year": str(law.year)}, [
        _node("LawNum", "", [law.law_num]),
        _node("LawBody", "", [
            _node("LawTitle", {"Kana": law.law_title_kana, "Abbrev": law.abbrev or ""}, [law.law_title]),
            _node("MainProvision", "", [article_node(a) for a in law.articles]),
        ]),
    ])


CORPUS: list[Law] = [
    Law("129AC0000000089", "明治二十九年法律第八十九号", "民法", "みんぽう", "Act", "Meiji", 29, "089", "1896-04-27",
        "民事", None, [
            Article("709", "（不法行為による損害賠償）", [Paragraph(1, (
                "故意又は過失によって他人の権利又は法律上保護される利益を侵害した者は、"
                "これによって生じた損害を賠償する責任を負う。"))]),
        ]),
    Law("322AC0000000067", "昭和二十二年法律第六十七号", "地方自治法", "ちほうじちほう", "Act", "Showa", 22, "067",
        "1947-04-17", "地方自治", None, [
            Article("2", "", [
                Paragraph(1, "地方公共団体は、法人とする。"),
                Paragraph(2, "普通地方公共団体は、地域における事務及びその他の事務で法律又はこれに基づく政令により処理することとされるものを処理する。"),
                Paragraph(3, "市町村は、基礎的な地方公共団体として、第五項において都道府県が処理するものとされているものを除き、一般的に、前項の事務を処理するものとする。"),
                Paragraph(9, "この法律において「法定受託事務」とは、次に掲げる事務をいう。", [
                    "法律又はこれに基づく政令により都道府県、市町村又は特別区が処理することとされる事務のうち、国が本来果たすべき役割に係るものであつて、国においてその適正な処理を特に確保する必要があるものとして法律又はこれに基づく政令に特に定めるもの（以下「第一号法定受託事務」という。）",
                    "法律又はこれに基づく政令により市町村又は特別区が処理することとされる事務のうち、都道府県が本来果たすべき役割に係るものであつて、都道府県においてその適正な処理を特に確保する必要があるものとして法律又はこれに基づく政令に特に定めるもの（以下「第二号法定受託事務」という。）",
                ]),
                Paragraph(14, "地方公共団体は、その事務を処理するに当つては、住民の福祉の増進に努めるとともに、最少の経費で最大の効果を挙げるようにしなければならない。"),
            ]),
            Article("10", "", [
                Paragraph(1, "市町村の区域内に住所を有する者は、当該市町村及びこれを包括する都道府県の住民とする。"),
                Paragraph(2, "住民は、法律の定めるところにより、その属する普通地方公共団体の役務の提供をひとしく受ける権利を有し、その負担を分任する義務を負う。"),
            ]),
        ]),
    Law("415AC0000000057", "平成十五年法律第五十七号", "個人情報の保護に関する法律", "こじんじょうほうのほごにかんするほうりつ",
        "Act", "Heisei", 15, "057", "2003-05-30", "行政手続", "個人情報保護法", [
            Article("61", "（個人情報の保有の制限等）", [
                Paragraph(1, "行政機関等は、個人情報を保有するに当たっては、法令（条例を含む。第六十六条第二項第三号及び第四号、第六十九条第二項第二号及び第三号並びに第四節において同じ。）の定める所掌事務又は業務を遂行するため必要な場合に限り、かつ、その利用目的をできる限り特定しなければならない。"),
                Paragraph(2, "行政機関等は、前項の規定により特定された利用目的の達成に必要な範囲を超えて、個人情報を保有してはならない。"),
                Paragraph(3, "行政機関等は、利用目的を変更する場合には、変更前の利用目的と相当の関連性を有すると合理的に認められる範囲を超えて行ってはならない。"),
            ]),
            Article("69", "（利用及び提供の制限）", [
                Paragraph(1, "行政機関の長等は、法令に基づく場合を除き、利用目的以外の目的のために保有個人情報を自ら利用し、又は提供してはならない。"),
            ]),
        ]),
    Law("425AC0000000027", "平成二十五年法律第二十七号",
        "行政手続における特定の個人を識別するための番号の利用等に関する法律",
        "ぎょうせいてつづきにおけるとくていのこじんをしきべつするためのばんごうのりようとうにかんするほうりつ",
        "Act", "Heisei", 25, "027", "2013-05-31", "行政手続", "番号利用法,マイナンバー法", [
            Article("9", "（利用範囲）", [
                Paragraph(1, "別表の上欄に掲げる行政機関、地方公共団体、独立行政法人等その他の行政事務を処理する者は、同表の下欄に掲げる事務の処理に関して保有する特定個人情報ファイルにおいて個人情報を効率的に検索し、及び管理するために必要な限度で個人番号を利用することができる。当該事務の全部又は一部の委託を受けた者も、同様とする。"),
                Paragraph(2, "地方公共団体の長その他の執行機関は、福祉、保健若しくは医療その他の社会保障、地方税又は防災に関する事務その他これらに類する事務であって条例で定めるものの処理に関して保有する特定個人情報ファイルにおいて個人情報を効率的に検索し、及び管理するために必要な限度で個人番号を利用することができる。当該事務の全部又は一部の委託を受けた者も、同様とする。"),
            ]),
        ]),
    Law("336AC0000000223", "昭和三十六年法律第二百二十三号", "災害対策基本法", "さいがいたいさくきほんほう", "Act", "Showa", 36,
        "223", "1961-11-15", "災害対策", None, [
            Article("50", "（災害応急対策及びその実施責任）", [
                Paragraph(1, "災害応急対策は、次の各号に掲げる事項について、災害が発生し、又は発生するおそれがある場合に災害の発生を防禦し、又は応急的救助を行う等災害の拡大を防止するために行うものとする。", [
                    "警報の発令及び伝達並びに避難の指示に関する事項",
                    "消防、水防その他の応急措置に関する事項",
                    "被災者の救難、救助その他保護に関する事項",
                    "災害を受けた児童及び生徒の応急の教育に関する事項",
                    "施設及び設備の応急の復旧に関する事項",
                    "廃棄物の処理及び清掃、防疫その他の生活環境の保全及び公衆衛生に関する事項",
                    "犯罪の予防、交通の規制その他災害地における社会秩序の維持に関する事項",
                    "緊急輸送の確保に関する事項",
                    "前各号に掲げるもののほか、災害の発生の防禦又は拡大の防止のための措置に関する事項",
                ]),
                Paragraph(2, "指定行政機関の長及び指定地方行政機関の長、地方公共団体及びその機関並びに指定公共機関及び指定地方公共機関その他法令の規定により災害応急対策の実施の責任を有する者は、法令又は防災計画の定めるところにより、災害応急対策に従事する者の安全の確保に十分に配慮して、災害応急対策を実施しなければならない。"),
            ]),
        ]),
]

SPEC_500 = {"code": "500001", "message": "サーバ内処理で異常が発生しました。"}
NOT_FOUND = {"code": "404001", "message": "指定された法令本文は存在しません。"}


def _sentences(law: Law):
    """(position, text) for every paragraph and item sentence of the law."""
    for article in law.articles:
        for para in article.paragraphs:
            base = f"MainProvision-Article_{article.num}-Paragraph_{para.num}"
            yield base, para.text
            for i, item in enumerate(para.items, start=1):
                yield f"{base}-Item_{i}", item


def _terms(keyword: str) -> list[str]:
    return [t for t in re.split(r"\s+AND\s+|\s+|　", keyword.strip()) if t]


def _highlight(text: str, terms: list[str], tag: str) -> str:
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)))
    return pattern.sub(lambda m: f"<{tag}>{m.group(0)}</{tag}>", text)


def _select(node: dict, elm: str) -> dict | None:
    """Follow an elm path such as MainProvision-Article_2-Paragraph_9 (``_N`` = Num attribute, ``[N]`` = N-th)."""
    current = node
    for segment in elm.split("-"):
        m = re.fullmatch(r"([A-Za-z0-9]+?)(?:_(\d+(?:_\d+)*)|\[(\d+)\])?", segment)
        if not m:
            return None
        tag, num, index = m.group(1), m.group(2), m.group(3)
        found = None
        count = 0
        for candidate in _descendants(current, tag):
            count += 1
            attr = candidate.get("attr") if isinstance(candidate.get("attr"), dict) else {}
            if (num is not None and attr.get("Num") == num) or (index is not None and count == int(index)) \
                    or (num is None and index is None):
                found = candidate
                break
        if found is None:
            return None
        current = found
    return current


def _descendants(node: dict, tag: str):
    for child in node.get("children", []):
        if isinstance(child, dict):
            if child.get("tag") == tag:
                yield child
            else:
                yield from _descendants(child, tag)


class LawStandIn(LoopbackServer):
    def __init__(self, corpus: list[Law] | None = None) -> None:
        self.corpus = list(corpus or CORPUS)
        self.delay = 0.0
        self.fail_status: int | None = None
        self.fail_body: dict = dict(SPEC_500)
        self.requests: list[dict] = []
        self._runner: web.AppRunner | None = None
        self.port: int | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/2"

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get("/api/2/keyword", self._keyword)
        app.router.add_get("/api/2/laws", self._laws)
        app.router.add_get("/api/2/law_data/{law}", self._law_data)

    def middlewares(self) -> list:
        return [self._middleware]


    # ---------------------------------------------------------------------------------------------- handlers

    @web.middleware
    async def _middleware(self, request: web.Request, handler):
        self.requests.append({"method": request.method, "path": request.path, "query": dict(request.query),
                              "headers": dict(request.headers)})
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.fail_status is not None:
            return _json(self.fail_body, status=self.fail_status)
        return await handler(request)

    async def _keyword(self, request: web.Request) -> web.Response:
        q = request.query
        keyword = q.get("keyword", "")
        if not keyword.strip():
            return _json({"code": "400001", "message": "キーワード（keyword）が指定されていません。"}, status=400)
        limit = min(int(q.get("limit", "100")), 1000)
        offset = int(q.get("offset", "0"))
        sentences_limit = int(q["sentences_limit"]) if "sentences_limit" in q else None
        size = int(q.get("sentence_text_size", "100"))
        tag = q.get("highlight_tag", "span")
        terms = _terms(keyword)
        matches: list[tuple[Law, str, str]] = []
        for law in sorted(self.corpus, key=lambda x: x.law_id):
            for position, text in _sentences(law):
                if all(t in text for t in terms):
                    matches.append((law, position, text))
        page = matches[offset: offset + limit]
        items: list[dict] = []
        for law, position, text in page:
            if not items or items[-1]["law_info"]["law_id"] != law.law_id:
                items.append({"law_info": law.law_info(), "revision_info": law.revision_info(), "sentences": []})
            if sentences_limit is not None and len(items[-1]["sentences"]) >= sentences_limit:
                continue
            items[-1]["sentences"].append({"position": position, "text": _highlight(text, terms, tag)[:size]})
        nxt = offset + limit if offset + limit < len(matches) else None
        return _json({"total_count": len(matches), "sentence_count": sum(len(i["sentences"]) for i in items),
                      "next_offset": nxt, "items": items})

    async def _laws(self, request: web.Request) -> web.Response:
        q = request.query
        title = q.get("law_title", "")
        law_id = q.get("law_id", "")
        limit = int(q.get("limit", "100"))
        offset = int(q.get("offset", "0"))
        rows = [law for law in sorted(self.corpus, key=lambda x: x.law_id)
                if (not title or title in law.law_title or any(title in a for a in (law.abbrev or "").split(",") if a))
                and (not law_id or law_id in law.law_id)]
        page = rows[offset: offset + limit]
        return _json({"total_count": len(rows), "count": len(page),
                      "next_offset": offset + limit if offset + limit < len(rows) else None,
                      "laws": [{"law_info": law.law_info(), "revision_info": law.revision_info(),
                                "current_revision_info": law.revision_info()} for law in page]})

    async def _law_data(self, request: web.Request) -> web.Response:
        key = request.match_info["law"]
        law = next((x for x in self.corpus if key in (x.law_id, x.law_num, x.revision_id)), None)
        if law is None:
            return _json(NOT_FOUND, status=404)
        tree = law_node(law)
        elm = request.query.get("elm")
        if elm:
            tree = _select(tree, elm)
            if tree is None:
                return _json(NOT_FOUND, status=404)
        return _json({"attached_files_info": None, "law_info": law.law_info(),
                      "revision_info": law.revision_info(), "law_full_text": tree})


def _json(data: Any, status: int = 200) -> web.Response:
    return web.json_response(data, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False))
