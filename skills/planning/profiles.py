"""Section profiles: they live in core (core/sections.py) since other skills need them too (/notice tells which
sections a 通知 concerns); /plan's names for them."""
from core.sections import (  # noqa: F401 - re-exported for /plan
    OUTPUT_KINDS,
    MethodStep,
    Profile,
    ProfileError,
    Profiles,
    load_file,
    load_profiles,
    parse_profiles,
    section_profiles,
)
