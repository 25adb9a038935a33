"""Administrator tasks run from the command line (`python -m bot ingest …`, `python -m bot reembed …`).

Both use the index as the bot builds it (`services.knowledge`): with EMBEDDINGS_MODEL set, documents get
their vectors through the guard, exactly as documents sent in chat do."""
from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

INGEST_USAGE = """使い方: python -m bot ingest <ナレッジセット名> <フォルダ> [--title <表示名>] [--owner <AADオブジェクトID>]
                                [--members <ID,ID,…>] [--url-prefix <URL>]
                                [--public | --private] [--contact-section <窓口>] [--contact-phone <電話番号>]

  フォルダ内の文書（PDF、Word、Excel、PowerPoint、HTML、テキスト、Markdown）をナレッジセットに登録します。
  変更のないファイルは読み飛ばし、フォルダから消えたファイルは索引からも削除します。
  セットがなければ作成します（--members を省略すると全職員が検索できます）。
  --url-prefix を指定すると、出典のリンクを <URL>/<相対パス> にします（既定は file:// のパス）。
  Markdown・テキストの先頭の front matter（--- で囲んだ url: / 窓口: / 電話:）は、その文書のリンクと窓口になります。
  --public を指定すると、市民向けチャットボットでも検索できる公開セットにします（--private で解除）。
  --contact-section と --contact-phone は、回答できないときに市民へ案内する窓口（セットの既定）です。"""

_OPTIONS = ("--title", "--owner", "--members", "--url-prefix", "--contact-section", "--contact-phone")
_FLAGS = ("--public", "--private")


def _parse(argv: list[str]) -> tuple[dict, str | None]:
    positional: list[str] = []
    opts: dict = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a in ("-h", "--help"):
            return {}, "help"
        if a in _FLAGS:
            if opts.get("public") not in (None, a == "--public"):
                return {}, "--public と --private は同時に指定できません。"
            opts["public"] = a == "--public"
            i += 1
            continue
        if a.startswith("--"):
            key, eq, value = a.partition("=")
            if key not in _OPTIONS:
                return {}, f"不明なオプションです: {key}"
            if not eq:
                if i + 1 >= len(argv):
                    return {}, f"{key} の値を指定してください。"
                value = argv[i + 1]
                i += 1
            opts[key[2:].replace("-", "_")] = value
        else:
            positional.append(a)
        i += 1
    if len(positional) != 2:
        return {}, "ナレッジセット名とフォルダを1つずつ指定してください。"
    opts["set"], opts["path"] = positional
    return opts, None


def ingest_command(argv: list[str]) -> int:
    """`python -m bot ingest <set> <path>`: returns the process exit code (0 ok, 1 some files failed, 2 bad input)."""
    opts, error = _parse(argv)
    if error == "help":
        print(INGEST_USAGE)
        return 0
    if error:
        print(f"エラー: {error}\n\n{INGEST_USAGE}", file=sys.stderr)
        return 2
    folder = Path(opts["path"]).expanduser()
    if not folder.exists():
        print(f"エラー: フォルダ「{folder}」が見つかりません。", file=sys.stderr)
        return 2
    if not folder.is_dir():
        print(f"エラー: 「{folder}」はフォルダではありません。フォルダを指定してください。", file=sys.stderr)
        return 2
    return _run(_ingest(opts, folder))


@contextlib.asynccontextmanager
async def _index():
    """The bot's search index on the configured database (migrated), or None after printing why not."""
    from bot.app import build_services
    from core.store import Database, StoreSettings

    db = Database.from_settings(StoreSettings())
    try:
        try:
            await db.migrate()
        except Exception as e:  # noqa: BLE001 - a clear line instead of a trace
            print(f"エラー: データベースに接続できませんでした（{type(e).__name__}）。DATABASE_URL をご確認ください。",
                  file=sys.stderr)
            yield None
            return
        services = build_services(db=db)
        try:
            yield services.knowledge
        finally:
            await services.llm.close()
    finally:
        await db.dispose()


def _run(coro) -> int:
    try:
        return asyncio.run(coro)
    except KeyboardInterrupt:
        print("中断しました。", file=sys.stderr)
        return 130


async def _ingest(opts: dict, folder: Path) -> int:
    import time

    from core.knowledge import public
    from core.search.index import SearchError
    from core.search.ingest import IngestError, ingest_folder

    async with _index() as index:
        if index is None:
            return 2
        name = opts["set"].strip()
        members = [m.strip() for m in opts.get("members", "").split(",") if m.strip()]
        contact = None
        if "contact_section" in opts or "contact_phone" in opts:
            contact = public.Contact(opts.get("contact_section"), opts.get("contact_phone"))
        try:
            existing = await index.get_set(name)
            if opts.get("public") and (members or (existing is not None and existing.members
                                                   and "members" not in opts)):
                raise SearchError(public.MEMBERS_REFUSED)
            if existing is None:
                await index.create_set(name, title=opts.get("title") or name, owner=opts.get("owner"),
                                       members=members)
                access = "メンバー限定" if members else "全職員が検索できます"
                if opts.get("public"):
                    access += "。市民向けに公開します"
                print(f"ナレッジセット「{name}」を作成しました（{access}）。")
            elif any(k in opts for k in ("title", "owner", "members")):
                await index.update_set(name, title=opts.get("title"), owner=opts.get("owner"),
                                       members=members if "members" in opts else None)
            if "public" in opts or contact is not None:
                info = await public.configure(index.db, name, public=opts.get("public"), contact=contact)
                if "public" in opts and existing is not None:
                    print(f"ナレッジセット「{name}」を{'市民向けに公開しました' if info.public else '非公開にしました'}。")
            started = time.perf_counter()
            report = await ingest_folder(index, name, folder, url_prefix=opts.get("url_prefix"), create_set=False)
        except (IngestError, SearchError) as e:
            print(f"エラー: {e.message}", file=sys.stderr)
            return 2
        elapsed = time.perf_counter() - started
        print(f"ナレッジセット「{name}」: {report.summary()}（{elapsed:.1f}秒）")
        for rel, note in report.truncated:
            print(f"  一部のみ: {rel}: {note}")
        for rel, reason in report.failed:
            print(f"  失敗: {rel}: {reason}", file=sys.stderr)
        return 1 if report.failed else 0


REEMBED_USAGE = """使い方: python -m bot reembed [<ナレッジセット名> …]

  登録済みの文書に、設定中の埋め込み（EMBEDDINGS_MODEL）でベクトルを作成します。埋め込みを初めて設定したとき、
  またはモデルや EMBEDDINGS_DOCUMENT_PREFIX を変えたときに実行してください。元のファイルは読み直しません。
  作成済みの文書は読み飛ばすので、何度実行しても構いません。セット名を省略すると、すべてのセットが対象です。"""


def reembed_command(argv: list[str]) -> int:
    """`python -m bot reembed [<set> …]`: 0 ok, 1 some passages were not embedded, 2 bad input or configuration."""
    if any(a in ("-h", "--help") for a in argv):
        print(REEMBED_USAGE)
        return 0
    bad = next((a for a in argv if a.startswith("--")), None)
    if bad:
        print(f"エラー: 不明なオプションです: {bad}\n\n{REEMBED_USAGE}", file=sys.stderr)
        return 2
    return _run(_reembed([a.strip() for a in argv if a.strip()] or None))


async def _reembed(names: list[str] | None) -> int:
    import time

    from core.search.index import SearchError

    async with _index() as index:
        if index is None:
            return 2
        started = time.perf_counter()
        try:
            report = await index.reembed(names)
        except SearchError as e:
            print(f"エラー: {e.message}", file=sys.stderr)
            return 2
        print(f"{report.summary()}（{time.perf_counter() - started:.1f}秒）")
        return 1 if report.failed else 0
