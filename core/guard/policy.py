"""Tier policy: which endpoint a request may use, whether its text must be masked, and when it is refused.

`Guard.decide(texts, requested_tier)` runs before any LLM call:
1. a 禁止ワード in the text refuses the request (nothing is sent);
2. the tier is the requested one, else ``mynumber`` when a valid 個人番号 is present, else the default tier;
3. with no endpoint at all the gateway is offline (reason "offline": skills take their offline path);
   with no endpoint approved for the tier the request is refused — an endpoint never serves another tier;
4. masking is on unless the endpoint is declared fit for personal data (safe by default). A 個人番号 is masked
   anywhere outside the マイナンバー利用事務系 tier even when the endpoint allows other personal data.
Detection always runs, so the session's counts are there for the audit record even when masking is off."""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pydantic import field_validator

from core.guard.pii import MaskSession, PiiDetector, mask_content, parse_custom_patterns, parse_list
from core.settings import AppSettings

if TYPE_CHECKING:  # pragma: no cover
    from core.llm import Endpoint, LLMGateway

TIERS = ("internet", "lgwan", "mynumber")

TIER_LABELS_JA = {"internet": "インターネット接続系", "lgwan": "LGWAN接続系", "mynumber": "マイナンバー利用事務系"}

_DEFAULT_CUSTOM_PATTERNS = (
    '[{"label": "宛名番号", "regex": "宛名番号\\\\s?[:：は]?\\\\s?(\\\\d{6,10})"},'
    ' {"label": "被保険者番号", "regex": "被保険者番号\\\\s?[:：は]?\\\\s?(\\\\d{6,10})"}]')


class GuardSettings(AppSettings):
    section = "guard"

    GUARD_FORBIDDEN_WORDS: str = ""
    """禁止ワード (comma separated): a request containing one is refused before anything is sent."""
    GUARD_CUSTOM_PATTERNS: str = _DEFAULT_CUSTOM_PATTERNS
    """More personal-data patterns as JSON: [{"label":"宛名番号","regex":"宛名番号[:：]?\\s*(\\d{6,10})"}] (group 1 is masked if present)."""
    GUARD_PUBLIC_ADDRESSES: str = "〒660-8501 兵庫県尼崎市東七松町1丁目23番1号"
    """Public office addresses that may pass unmasked (comma / new-line separated or a JSON list)."""
    GUARD_PUBLIC_PHONES: str = "06-6375-5639"
    """Public office phone numbers that may pass unmasked (comma separated)."""
    GUARD_NOT_NAMES: str = ""
    """Place names the analyser may take for surnames (comma separated), added to the built-in local list."""
    GUARD_DEFAULT_TIER: str = "internet"
    """Network tier of a request when neither the conversation nor the user chose one: internet | lgwan | mynumber."""
    AUDIT_KEEP_PROMPTS: bool = False
    """Store prompts and answers in the audit log? When on, only the masked text is stored."""
    AUDIT_EXPORT_TOKEN: str | None = None
    """Secret for the admin CSV export endpoint of the audit log; empty = the endpoint is off."""

    @field_validator("GUARD_DEFAULT_TIER")
    @classmethod
    def _tier(cls, v: str) -> str:
        v = (v or "").strip().lower()
        if v not in TIERS:
            raise ValueError(f"GUARD_DEFAULT_TIER must be one of {TIERS}, got {v!r}")
        return v

    @field_validator("GUARD_CUSTOM_PATTERNS")
    @classmethod
    def _patterns(cls, v: str) -> str:
        parse_custom_patterns(v)  # raises a clear ValueError on bad JSON / regex
        return v

    @field_validator("GUARD_PUBLIC_ADDRESSES", "GUARD_PUBLIC_PHONES", "GUARD_NOT_NAMES")
    @classmethod
    def _lists(cls, v: str) -> str:
        parse_list(v)
        return v

    @property
    def forbidden_words(self) -> list[str]:
        return [w.strip() for w in (self.GUARD_FORBIDDEN_WORDS or "").replace("、", ",").split(",") if w.strip()]


@dataclass
class Decision:
    tier: str
    endpoint: "Endpoint | None"
    session: MaskSession
    masking: bool
    refusal: str | None
    reason: str | None

    @property
    def allowed(self) -> bool:
        """True when the request may go to `endpoint` (not refused, not offline)."""
        return self.refusal is None and self.endpoint is not None


def _fold(s: str) -> str:
    return unicodedata.normalize("NFKC", s).casefold()


class Guard:
    """One per process: holds the detector (and so the lazily loaded analyser) and the gateway."""

    def __init__(self, settings: GuardSettings, gateway: "LLMGateway") -> None:
        self.settings = settings
        self.gateway = gateway
        self.detector = PiiDetector(settings)
        self._forbidden = [(w, _fold(w)) for w in settings.forbidden_words]

    def new_session(self) -> MaskSession:
        return MaskSession(self.detector)

    def forbidden_word(self, texts: list[str]) -> str | None:
        folded = [_fold(t) for t in texts if t]
        for word, f in self._forbidden:
            if any(f in t for t in folded):
                return word
        return None

    def decide(self, texts: list[str], requested_tier: str | None) -> Decision:
        session = self.new_session()
        for t in texts:
            session.observe(t or "")
        has_mynumber = session.has("mynumber")

        word = self.forbidden_word(texts)
        tier_guess = (requested_tier or "").strip().lower() or ("mynumber" if has_mynumber else None) \
            or self.settings.GUARD_DEFAULT_TIER
        if word:
            return Decision(tier_guess, None, session, True,
                            f"禁止ワード「{word}」が含まれているため、AIには送信しませんでした。", "forbidden_word")
        if tier_guess not in TIERS:
            return Decision(tier_guess, None, session, True,
                            f"ネットワーク区分「{requested_tier}」は扱えません（internet・lgwan・mynumber のいずれかを"
                            "指定してください）。AIには送信しませんでした。", "unknown_tier")
        tier = tier_guess
        if self.gateway.offline:
            return Decision(tier, None, session, True, None, "offline")
        endpoint = self.gateway.for_tier(tier)
        if endpoint is None or endpoint.tier != tier:
            why = "個人番号（マイナンバー）が含まれているため、この依頼は" if (has_mynumber and not requested_tier) \
                else "この依頼は"
            return Decision(tier, None, session, True,
                            f"{why}「{TIER_LABELS_JA[tier]}」の区分で扱う必要がありますが、この区分で利用を認められた"
                            "AIの接続先が設定されていません。そのため、AIには送信しませんでした。"
                            "管理者に接続先の設定を依頼するか、個人情報を含まない内容でお試しください。",
                            "no_endpoint_for_tier")
        masking = (not endpoint.personal_data) or (has_mynumber and tier != "mynumber")
        return Decision(tier, endpoint, session, masking, None, None)

    @staticmethod
    def mask_messages(messages: list[dict], session: MaskSession) -> list[dict]:
        """Copies of chat messages with their content masked (str content, or text parts of a list)."""
        out = []
        for msg in messages:
            if isinstance(msg, dict) and "content" in msg:
                msg = {**msg, "content": mask_content(msg["content"], session)}
            out.append(msg)
        return out
