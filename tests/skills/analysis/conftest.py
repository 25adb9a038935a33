"""Fixtures of the データ分析 tests: a SQLite database, services whose data folder is the test's own."""
from __future__ import annotations

import pytest

from skills.analysis.settings import AnalysisSettings

OPENED: list = []


@pytest.fixture
async def lite_db(tmp_path):
    from core.store import Database

    database = Database(f"sqlite+aiosqlite:///{tmp_path}/analysis.db")
    await database.migrate()
    yield database
    await database.dispose()


def analysis_settings(tmp_path, **kw) -> AnalysisSettings:
    return AnalysisSettings(_env_file=None, ANALYSIS_DATA_DIR=str(tmp_path / "analysis"), ANALYSIS_THREADS=1,
                            **kw)


@pytest.fixture(autouse=True)
async def _close_clients():
    yield
    while OPENED:
        services = OPENED.pop()
        engine = services.extras.get("analysis.engine")
        if engine is not None:
            engine.close()
        try:
            await services.llm.close()
        except RuntimeError:
            pass
