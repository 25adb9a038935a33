"""e-Gov 法令API v2 client (search, titles, articles) — see core/law/client.py."""
from core.law.client import (
                             LAW_ERROR_JA,
                             LawArticle,
                             LawClient,
                             LawError,
                             LawHit,
                             LawInfo,
                             LawSettings,
                             article_elm,
                             article_label,
                             flatten_element,
                             kanji_number,
                             split_position,
                             strip_tags,
)

__all__ = ["LAW_ERROR_JA", "LawArticle", "LawClient", "LawError", "LawHit", "LawInfo", "LawSettings", "article_elm",
           "article_label", "flatten_element", "kanji_number", "split_position", "strip_tags"]
