"""Shared set-up for the /plan tests: a profiles file, knowledge sets with documents, scripted LLM replies."""
from __future__ import annotations

import json
from pathlib import Path

from core.search.index import Index
from skills.planning.outline import SECTIONS

PROFILES_YAML = """
default: general
profiles:
  - id: general
    name: 汎用（全庁共通）
    method: [現状分析, 課題, 先進事例, 施策案]
    knowledge_sets: [common]
    case_sets: [cases]
    law_keywords: [住民の福祉]
  - id: kodomo
    name: こども政策課
    departments: [こども政策]
    method:
      - name: 子育て世帯の現状
        guide: 出生数・保育需要を確認する
      - name: 他都市事例
        guide: 他都市の取組を確認する
      - name: 施策案
    knowledge_sets: [kodomo, secret-set]
    case_sets: [cases]
    law_keywords: [住民の福祉]
    outputs: [slides, report]
    tone: 保護者にも伝わる平易な表現
"""

KODOMO_DOC = """# 尼崎市子育て支援の現状（令和6年度）

## 保育の現状と課題
市内の保育所の待機児童数は令和6年4月時点で12人であり、前年より8人減少した。
一方で、子育て世帯の手続の負担が課題であり、窓口の平均待ち時間は40分である。

## 子育て支援アプリの検討
子育て支援アプリの導入により、予防接種や健診の通知をスマートフォンへ配信することを検討している。
導入費用は初年度約1,200万円、運用費は年額約300万円と見込まれる。
"""

CASES_DOC = """# 他都市の子育て支援アプリ事例

## 西宮市の取組
西宮市では子育て支援アプリを令和4年度に導入し、登録者は2万人を超えた。
健診の通知を配信し、受診率が5ポイント向上した事例がある。
"""

SECRET_DOC = """# 非公開の資料
子育て支援アプリの秘密の検討メモ。
"""


def write_profiles(tmp_path: Path) -> Path:
    path = tmp_path / "profiles.yaml"
    path.write_text(PROFILES_YAML, encoding="utf-8")
    return path


async def load_knowledge(services) -> Index:
    index = services.knowledge          # the one index every skill shares
    await index.create_set("kodomo", title="こども政策課の資料")
    await index.create_set("cases", title="他都市事例")
    await index.create_set("secret-set", title="他課限定", members=["ffffffff-0000-0000-0000-000000000000"])
    await index.upsert_document("kodomo", "folder", "kodomo/genjo.md", "尼崎市子育て支援の現状", "https://example.lg.jp/kodomo",
                                KODOMO_DOC)
    await index.upsert_document("cases", "folder", "cases/nishinomiya.md", "他都市の子育て支援アプリ事例",
                                None, CASES_DOC)
    await index.upsert_document("secret-set", "folder", "secret.md", "非公開の資料", None, SECRET_DOC)
    return index


RESEARCH_NOTES = "## 子育て世帯の現状\n- 待機児童数は12人である[1]\n## 他都市事例\n- 西宮市で受診率が向上した[2]"


def outline_json(title: str = "子育て支援アプリの導入について") -> str:
    sections = [{"name": name, "points": [f"{name}の要点その1です[1]", f"{name}の要点その2です[2]"]}
                for name in SECTIONS]
    return "```json\n" + json.dumps({"title": title, "sections": sections}, ensure_ascii=False) + "\n```"


START_DATA = {"theme": "子育て支援アプリの導入", "purpose": "手続の負担を減らす", "target": "未就学児の保護者",
              "period": "令和8年度〜令和10年度", "budget": "1,000万〜1億円", "profile": "kodomo"}
