"""Settings of 画像点検 (/photo): what a photo may cost, what is sent to the vision model, where findings go."""
from __future__ import annotations

import json

from pydantic import SecretStr, field_validator

from core.chatfiles import TEAMS_FILE_HOSTS
from core.settings import AppSettings, csv_list

DEFAULT_KINTONE_FIELDS: dict[str, str] = {
    "title": "件名", "subject": "対象", "kind": "損傷の種類", "grade": "判定区分", "extent": "損傷の程度",
    "action": "推奨対応", "confidence": "確信度", "taken_at": "撮影日時", "location": "位置情報", "map_url": "地図",
    "reporter": "登録者", "photo": "写真",
}


class ImagesSettings(AppSettings):
    section = "images"

    IMAGES_MAX_FILE_MB: int = 30
    """Largest photo or zip of photos (MB) taken from chat; the download stops at the cap."""
    IMAGES_MAX_PHOTOS: int = 300
    """Photos checked per message (files and the photos inside zips together); later ones are left out and the user is told."""
    IMAGES_FOLDER_MAX_PHOTOS: int = 200
    """Photos read from one shared SharePoint/OneDrive folder (/photo with a sharing link, read through Microsoft Graph); the rest are left out and the user is told how many."""
    IMAGES_MAX_PIXELS: int = 60_000_000
    """Largest photo in pixels (width × height, e.g. 60,000,000 ≈ 9,500 × 6,300); a larger one is refused unread (decompression bombs)."""
    IMAGES_SEND_MAX_SIDE: int = 1280
    """Longest side (pixels) of the copy sent to the vision model; the photo is shrunk to it before faces are blurred and it is sent."""
    IMAGES_SEND_QUALITY: int = 82
    """JPEG quality (1–95) of the copy sent to the vision model (no EXIF: GPS and camera data never leave)."""
    IMAGES_CARD_THUMB_BYTES: int = 14000
    """Most bytes of the thumbnail inside a photo's card (sent as a data URL; a Teams card must stay under about 28 KB)."""
    IMAGES_REPORT_SIDE: int = 640
    """Longest side (pixels) of the photo kept for the Excel/Word report and the kintone attachment."""
    IMAGES_CARDS_MAX: int = 30
    """Photos shown as a card of their own per message (Teams allows about 60 messages per 30 s in a conversation); the rest are in the summary card and the report."""
    IMAGES_CONCURRENCY: int = 4
    """Photos prepared and checked at once (vision calls in flight)."""
    IMAGES_BLUR_ALWAYS: bool = False
    """Blur faces even when the vision endpoint of the tier may receive personal data (off: blur only for endpoints not approved for personal data)."""
    IMAGES_LLM_TIMEOUT_SECONDS: float = 90.0
    """Timeout of one vision call (seconds)."""
    IMAGES_PROMPT_FILE: str = ""
    """Instruction given to the vision model (Markdown; {road_kinds}, {pipe_kinds} and {grades} are filled in from the grades file); empty = the shipped skills/images/prompts/inspect.md."""
    IMAGES_SCHEMA_FILE: str = ""
    """JSON schema of the model's answer (structured output); empty = the shipped skills/images/prompts/finding.schema.json."""
    IMAGES_GRADES_FILE: str = ""
    """Grade scale (YAML: code, label, description per 判定区分); empty = the shipped skills/images/prompts/grades.yaml (Ⅰ–Ⅳ)."""
    IMAGES_KEEP_DAYS: int = 7
    """Days a checked batch (results and small photos) is kept for the report and kintone buttons; then it is deleted."""
    IMAGES_KINTONE_BASE_URL: str = ""
    """kintone base URL of the 補修要望 app; empty = KINTONE_BASE_URL."""
    IMAGES_KINTONE_APP_ID: str = ""
    """ID of the kintone app (補修要望) that receives findings; empty = the button is not offered."""
    IMAGES_KINTONE_API_TOKEN: SecretStr | None = None
    """API token of the 補修要望 app (add record + file upload); secret, from the environment only."""
    IMAGES_KINTONE_FIELD_MAP: str = ""
    """JSON mapping our names → the 補修要望 app's field codes; keys not given keep the defaults (title→件名, subject→対象, kind→損傷の種類, grade→判定区分, extent→損傷の程度, action→推奨対応, confidence→確信度, taken_at→撮影日時, location→位置情報, map_url→地図, reporter→登録者, photo→写真)."""
    IMAGES_KINTONE_MIN_GRADE: str = "Ⅱ"
    """Mildest 判定区分 the summary card's bulk button registers in kintone (a code of the grades file: Ⅱ = Ⅱ, Ⅲ and Ⅳ)."""
    IMAGES_CARD_INTERVAL_SECONDS: float = 0.5
    """Pause between the photo cards of one page sent with 「次の30枚」 (0.5 s keeps a page under Teams' 60 messages per 30 s in a conversation)."""
    IMAGES_GEOCODER_URL: str = ""
    """Reverse geocoder for the address of a photo's GPS position, 国土地理院's API or a server answering like it (https://mreversegeocoder.gsi.go.jp/reverse-geocoder/LonLatToAddress); empty = no address, only coordinates and the 地理院地図 link."""
    IMAGES_GEOCODER_TIERS: str = "internet"
    """Network tiers whose requests may send a photo's position to the geocoder (comma separated); other tiers show coordinates only."""
    IMAGES_GEOCODER_TIMEOUT_SECONDS: float = 5.0
    """Timeout of one reverse-geocoder call (seconds); after a failure the rest of the batch shows coordinates only."""
    IMAGES_GEOCODER_CACHE_HOURS: float = 24.0
    """Hours an address found for a position (rounded to about 1 m) is kept in memory."""
    IMAGES_GEOCODER_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges the geocoder URL may reach although private/loopback (an on-premise geocoder). Normally empty."""
    IMAGES_MUNICIPALITIES_FILE: str = ""
    """CSV naming the geocoder's 市区町村コード (code, 都道府県, 市区町村); empty = the shipped skills/images/data/municipalities.csv (兵庫県 and 尼崎市's 大阪府 neighbours)."""
    IMAGES_DOWNLOAD_TIMEOUT_SECONDS: float = 60.0
    """Timeout for downloading a photo or zip sent in chat (seconds)."""
    IMAGES_DOWNLOAD_HOSTS: str = TEAMS_FILE_HOSTS
    """Hosts a photo sent in chat may be downloaded from (comma separated, "*.example.com" = any name below it), every redirect hop included."""
    IMAGES_DOWNLOAD_ALLOWLIST: str = ""
    """Hosts, addresses or CIDR ranges a download may reach although private/loopback (plain http only for these). Normally empty."""

    @field_validator("IMAGES_KINTONE_FIELD_MAP")
    @classmethod
    def _field_map(cls, v: str) -> str:
        if v.strip():
            data = json.loads(v)
            if not isinstance(data, dict) or set(data) - set(DEFAULT_KINTONE_FIELDS):
                raise ValueError(f"IMAGES_KINTONE_FIELD_MAP: an object with keys among {sorted(DEFAULT_KINTONE_FIELDS)}")
        return v

    @property
    def kintone_fields(self) -> dict[str, str]:
        given = json.loads(self.IMAGES_KINTONE_FIELD_MAP) if self.IMAGES_KINTONE_FIELD_MAP.strip() else {}
        return {**DEFAULT_KINTONE_FIELDS, **{k: str(v) for k, v in given.items() if v}}

    @property
    def download_hosts(self) -> list[str]:
        return csv_list(self.IMAGES_DOWNLOAD_HOSTS)

    @property
    def download_allowlist(self) -> list[str]:
        return csv_list(self.IMAGES_DOWNLOAD_ALLOWLIST)

    @property
    def geocoder_tiers(self) -> list[str]:
        return csv_list(self.IMAGES_GEOCODER_TIERS)

    @property
    def geocoder_allowlist(self) -> list[str]:
        return csv_list(self.IMAGES_GEOCODER_ALLOWLIST)


def settings_of(services) -> ImagesSettings:
    return services.settings.get(ImagesSettings)
