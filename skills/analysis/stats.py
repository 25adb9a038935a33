"""The analyses computed locally with statsmodels and scipy (never by the LLM): 将来推計 with prediction intervals,
correlation and simple regression, year-over-year change. Each result says its method and its caveats, in Japanese,
because a number without them would be taken for a fact."""
from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

MIN_POINTS = 4
LEVEL = 95


class AnalysisError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass
class Forecast:
    method: str                       # Japanese name of the model, e.g. 「ホルトの指数平滑法（加法トレンド）」
    labels: list[str]                 # the observed periods
    values: list[float]
    future: list[str]                 # the forecast periods
    mean: list[float]
    lower: list[float]
    upper: list[float]
    level: int = LEVEL
    caveats: list[str] = field(default_factory=list)
    aic: float | None = None

    def to_json(self) -> dict:
        return self.__dict__.copy()


def next_labels(labels: Sequence[str], n: int) -> list[str]:
    """The n periods after the last label: 2024年 → 2025年…, 2024年度 → 2025年度…, 2025年03月 → 2025年04月…"""
    last = labels[-1] if labels else ""
    m = re.match(r"^(\d{4})年(\d{1,2})月$", last)
    if m:
        y, mo = int(m.group(1)), int(m.group(2))
        out = []
        for _ in range(n):
            mo += 1
            if mo > 12:
                y, mo = y + 1, 1
            out.append(f"{y}年{mo:02d}月")
        return out
    m = re.match(r"^(\d{4})(年度|年)$", last)
    if m:
        return [f"{int(m.group(1)) + k}{m.group(2)}" for k in range(1, n + 1)]
    return [f"{k}期後" for k in range(1, n + 1)]


def forecast(labels: Sequence[str], values: Sequence[float], horizon: int, *, monthly: bool = False) -> Forecast:
    """Forecast the series `horizon` periods ahead with a 95% prediction interval.

    Exponential smoothing (statsmodels ETSModel, additive errors and trend; damped trend from 10 points; additive
    seasonality of 12 for monthly data from 24 points) and, from 10 points, ARIMA(1,1,0) with drift; the one with
    the lower AIC is reported. Fewer than 4 points: no estimate."""
    y = np.asarray([float(v) for v in values], dtype=float)
    if len(y) < MIN_POINTS or not np.all(np.isfinite(y)):
        raise AnalysisError(f"将来推計には、欠けのない{MIN_POINTS}期以上のデータが必要です（現在{len(y)}期）。")
    horizon = max(1, min(int(horizon), 20))
    candidates: list[Forecast] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        candidates.append(_ets(labels, y, horizon, monthly=monthly))
        if len(y) >= 10:
            try:
                candidates.append(_arima(labels, y, horizon))
            except Exception:  # noqa: BLE001 - ARIMA may fail to converge: exponential smoothing stands alone
                pass
    best = min(candidates, key=lambda f: f.aic if f.aic is not None and math.isfinite(f.aic) else float("inf"))
    best.caveats = [
        f"統計モデル（{best.method}）による推計値で、確定した値ではありません。網掛けの範囲は{LEVEL}%予測区間です。",
        "過去の傾向が続くと仮定しています。制度改正・大規模開発・災害などの影響は含みません。",
    ]
    if len(y) < 10:
        best.caveats.append(f"データが{len(y)}期と少ないため、推計の幅（不確実さ）が大きくなります。")
    return best


def _ets(labels, y: np.ndarray, horizon: int, *, monthly: bool) -> Forecast:
    import pandas as pd
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    seasonal = monthly and len(y) >= 24
    damped = len(y) >= 10
    model = ETSModel(pd.Series(y), error="add", trend="add", damped_trend=damped,
                     seasonal="add" if seasonal else None, seasonal_periods=12 if seasonal else None)
    fit = model.fit(disp=False)
    pred = fit.get_prediction(start=len(y), end=len(y) + horizon - 1)
    frame = pred.summary_frame(alpha=1 - LEVEL / 100)
    name = "指数平滑法（" + ("減衰" if damped else "") + "加法トレンド" + ("・季節性12か月" if seasonal else "") + "）"
    return Forecast(method=name, labels=list(labels), values=y.tolist(), future=next_labels(labels, horizon),
                    mean=frame["mean"].tolist(), lower=frame["pi_lower"].tolist(), upper=frame["pi_upper"].tolist(),
                    aic=float(fit.aic))


def _arima(labels, y: np.ndarray, horizon: int) -> Forecast:
    from statsmodels.tsa.arima.model import ARIMA

    fit = ARIMA(y, order=(1, 1, 0), trend="t").fit()
    pred = fit.get_forecast(steps=horizon)
    ci = pred.conf_int(alpha=1 - LEVEL / 100)
    return Forecast(method="ARIMA(1,1,0)・ドリフト付き", labels=list(labels), values=y.tolist(),
                    future=next_labels(labels, horizon), mean=np.asarray(pred.predicted_mean).tolist(),
                    lower=np.asarray(ci)[:, 0].tolist(), upper=np.asarray(ci)[:, 1].tolist(), aic=float(fit.aic))


@dataclass
class Relation:
    x: str
    y: str
    n: int
    pearson: float
    pearson_p: float
    spearman: float
    slope: float
    intercept: float
    slope_low: float
    slope_high: float
    r2: float
    caveats: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        return self.__dict__.copy()

    def strength_ja(self) -> str:
        r = abs(self.pearson)
        word = "ほとんど相関がない" if r < 0.2 else "弱い" if r < 0.4 else "中程度の" if r < 0.7 else "強い"
        if r < 0.2:
            return word
        return f"{word}{'正の' if self.pearson > 0 else '負の'}相関"


def relation(x_name: str, y_name: str, xs: Sequence[float], ys: Sequence[float]) -> Relation:
    """Pearson and Spearman correlation, and the least-squares line y = a + b·x with a 95% interval for b."""
    import statsmodels.api as sm
    from scipy import stats as sps

    pairs = [(float(a), float(b)) for a, b in zip(xs, ys)
             if a is not None and b is not None and math.isfinite(float(a)) and math.isfinite(float(b))]
    if len(pairs) < 3:
        raise AnalysisError("相関・回帰には、両方の値がそろった行が3行以上必要です。")
    x = np.asarray([p[0] for p in pairs])
    y = np.asarray([p[1] for p in pairs])
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        raise AnalysisError("値がすべて同じ列があるため、相関・回帰を計算できません。")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pr = sps.pearsonr(x, y)
        sr = sps.spearmanr(x, y)
        fit = sm.OLS(y, sm.add_constant(x)).fit()
    ci = fit.conf_int(alpha=0.05)
    rel = Relation(x=x_name, y=y_name, n=len(pairs), pearson=float(pr.statistic), pearson_p=float(pr.pvalue),
                   spearman=float(sr.statistic), intercept=float(fit.params[0]), slope=float(fit.params[1]),
                   slope_low=float(ci[1][0]), slope_high=float(ci[1][1]), r2=float(fit.rsquared))
    rel.caveats = ["相関は因果関係を示しません。ほかの要因（年齢構成・地域差など）が両方に影響している場合があります。",
                   "直線の関係だけを見ています。外れ値があると結果が大きく変わります。"]
    if rel.n < 30:
        rel.caveats.append(f"データが{rel.n}件と少ないため、偶然の影響を受けやすい結果です。")
    if rel.pearson_p >= 0.05:
        rel.caveats.append(f"p値が{rel.pearson_p:.2f}で、統計的に意味のある相関とはいえません（5%水準）。")
    return rel


def year_over_year(values: Sequence[float | None]) -> list[tuple[float | None, float | None]]:
    """(change, rate) from the previous period for each value (None for the first or where undefined)."""
    out: list[tuple[float | None, float | None]] = []
    prev: float | None = None
    for v in values:
        if v is None or prev is None:
            out.append((None, None))
        else:
            change = float(v) - prev
            out.append((change, change / prev if prev else None))
        prev = None if v is None else float(v)
    return out
