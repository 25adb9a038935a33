"""`python -m bot ingest <set> <path>` (bot.admin.ingest_command) against a real database."""
from __future__ import annotations

import asyncio

from core.search.index import Index
from tests.skills.qa.conftest import make_docx


async def run(monkeypatch, db_url, argv):
    monkeypatch.setenv("DATABASE_URL", db_url)
    from bot.admin import ingest_command
    return await asyncio.to_thread(ingest_command, argv)


async def test_folder_ingestion_counts_updates_and_removals(db_url, db, monkeypatch, tmp_path, capsys):
    folder = tmp_path / "規程"
    (folder / "sub").mkdir(parents=True)
    (folder / "休暇.md").write_text("# 休暇\n\n年次休暇は20日です。\n", encoding="utf-8")
    (folder / "sub" / "テレワーク.docx").write_bytes(make_docx())
    (folder / "壊れた.pdf").write_bytes(b"not a pdf")
    (folder / "画像.png").write_bytes(b"\x89PNG")
    rc = await run(monkeypatch, db_url, ["soumu", str(folder), "--title", "総務課", "--url-prefix",
                                         "https://sp.example/規程"])
    out, err = capsys.readouterr()
    assert rc == 1                                           # one file failed
    assert "ナレッジセット「soumu」を作成しました（全職員が検索できます）。" in out
    assert "追加 2 件、更新 0 件、変更なし 0 件、削除 0 件、対象外 1 件、失敗 1 件" in out
    assert "失敗: 壊れた.pdf: 「壊れた.pdf」を読み取れませんでした" in err

    (folder / "壊れた.pdf").unlink()
    (folder / "休暇.md").write_text("# 休暇\n\n年次休暇は20日、夏季休暇は5日です。\n", encoding="utf-8")
    (folder / "sub" / "テレワーク.docx").unlink()
    rc = await run(monkeypatch, db_url, ["soumu", str(folder), "--url-prefix=https://sp.example/規程"])
    out, _ = capsys.readouterr()
    assert rc == 0 and "追加 0 件、更新 1 件、変更なし 0 件、削除 1 件" in out

    index = Index(db)
    info = await index.get_set("soumu")
    assert info.title == "総務課" and info.members == []
    docs = await index.list_documents("soumu")
    assert list(docs) == ["休暇.md"] and docs["休暇.md"].url == "https://sp.example/規程/休暇.md"
    hits = await index.search("夏季休暇は何日", ["soumu"])
    assert hits and "夏季休暇は5日" in hits[0].text


async def test_bad_input_gets_clear_messages(db_url, db, monkeypatch, tmp_path, capsys):
    assert await run(monkeypatch, db_url, ["soumu"]) == 2
    assert "ナレッジセット名とフォルダを1つずつ指定してください" in capsys.readouterr().err
    assert await run(monkeypatch, db_url, ["soumu", str(tmp_path / "none")]) == 2
    assert f"フォルダ「{tmp_path / 'none'}」が見つかりません" in capsys.readouterr().err
    (tmp_path / "a.txt").write_text("x", encoding="utf-8")
    assert await run(monkeypatch, db_url, ["soumu", str(tmp_path / "a.txt")]) == 2
    assert "フォルダではありません" in capsys.readouterr().err
    assert await run(monkeypatch, db_url, ["soumu", str(tmp_path), "--owner"]) == 2
    assert "--owner の値を指定してください" in capsys.readouterr().err
    assert await run(monkeypatch, db_url, ["soumu", str(tmp_path), "--colour", "x"]) == 2
    assert "不明なオプションです: --colour" in capsys.readouterr().err
    assert await run(monkeypatch, db_url, ["--help"]) == 0
    assert "使い方: python -m bot ingest" in capsys.readouterr().out
    # members given: the set is members-only
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x.md").write_text("# 内示\n\n内示は3月です。", encoding="utf-8")
    assert await run(monkeypatch, db_url, ["jinji", str(tmp_path / "d"), "--members", "g-1, g-2"]) == 0
    assert "メンバー限定" in capsys.readouterr().out
    assert (await Index(db).get_set("jinji")).members == ["g-1", "g-2"]


async def test_embeddings_at_ingest_and_reembed(db_url, db, monkeypatch, tmp_path, capsys):
    """With EMBEDDINGS_MODEL set, `ingest` stores vectors (through the guard, masked); documents registered before
    get theirs from `reembed`, which skips what is current."""
    from aiohttp.test_utils import TestServer
    from sqlalchemy import select

    from core.search.models import Chunk, Document
    from tests.core.search.embed_stub import make_app

    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "AZURE_OPENAI_ENDPOINT", "LLM_ENDPOINTS", "EMBEDDINGS_MODEL"):
        monkeypatch.delenv(var, raising=False)
    # About the endpoint's embeddings: the in-process model (on by default) is off, so that the first ingest stores
    # no vectors and `reembed` without EMBEDDINGS_MODEL has nothing to embed with.
    monkeypatch.setenv("EMBEDDINGS_LOCAL", "false")
    folder = tmp_path / "規程"
    folder.mkdir()
    (folder / "休暇.md").write_text("# 休暇\n\n年次休暇は20日です。担当は山田太郎です。\n", encoding="utf-8")
    assert await run(monkeypatch, db_url, ["soumu", str(folder)]) == 0        # offline: no vectors
    assert await reembed(monkeypatch, db_url, []) == 2
    assert "埋め込み（EMBEDDINGS_MODEL）が設定されていない" in capsys.readouterr().err
    assert await reembed(monkeypatch, db_url, ["--all"]) == 2
    assert "不明なオプションです: --all" in capsys.readouterr().err
    assert await reembed(monkeypatch, db_url, ["--help"]) == 0
    assert "使い方: python -m bot reembed" in capsys.readouterr().out

    calls: list = []
    server = TestServer(make_app(calls=calls), host="127.0.0.1")
    await server.start_server()
    try:
        monkeypatch.setenv("OPENAI_API_KEY", "test-key")
        monkeypatch.setenv("OPENAI_BASE_URL", str(server.make_url("/v1")))
        monkeypatch.setenv("EMBEDDINGS_MODEL", "e5")
        monkeypatch.setenv("EMBEDDINGS_DOCUMENT_PREFIX", "passage: ")
        assert await reembed(monkeypatch, db_url, ["nai"]) == 2
        assert "ナレッジセット「nai」は登録されていません" in capsys.readouterr().err
        assert await reembed(monkeypatch, db_url, []) == 0
        assert "ベクトルを作成した文書 1 件（パッセージ 1 件）、作成済みで変更なし 0 件" in capsys.readouterr().out
        assert await reembed(monkeypatch, db_url, ["soumu"]) == 0
        assert "ベクトルを作成した文書 0 件（パッセージ 0 件）、作成済みで変更なし 1 件" in capsys.readouterr().out
        (folder / "旅費.md").write_text("# 旅費\n\n出張後5日以内に精算します。\n", encoding="utf-8")
        assert await run(monkeypatch, db_url, ["soumu", str(folder)]) == 0
        assert "追加 1 件、更新 0 件、変更なし 1 件" in capsys.readouterr().out
    finally:
        await server.close()
    assert [c["input"][0].split("\n")[0] for c in calls] == ["passage: 休暇", "passage: 旅費"]
    assert "山田" not in str(calls) and "［氏名1］" in calls[0]["input"][0]
    async with db.session() as s:
        assert set(await s.scalars(select(Document.embed_space))) == {"e5|passage: "}
        assert all(len(e) == 256 * 4 for e in await s.scalars(select(Chunk.vector)))


async def reembed(monkeypatch, db_url, argv):
    monkeypatch.setenv("DATABASE_URL", db_url)
    from bot.admin import reembed_command
    return await asyncio.to_thread(reembed_command, argv)
