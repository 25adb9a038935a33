"""kintone REST client for the staff question desk — see core/kintone/client.py."""
from core.kintone.client import (
                                 DEFAULT_FIELD_MAP,
                                 KINTONE_ERROR_JA,
                                 AnsweredRecord,
                                 KintoneClient,
                                 KintoneError,
                                 KintoneSettings,
                                 kintone_datetime,
                                 parse_kintone_datetime,
                                 query_string,
)

__all__ = ["DEFAULT_FIELD_MAP", "KINTONE_ERROR_JA", "AnsweredRecord", "KintoneClient", "KintoneError",
           "KintoneSettings", "kintone_datetime", "parse_kintone_datetime", "query_string"]
