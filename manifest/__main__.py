"""`python -m manifest`: write build/appPackage.zip from the environment (and .env) and the skill registry."""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from manifest.build import DEFAULT_OUT, ManifestError, build_manifest, write_package


def _environment(env_file: Path) -> dict[str, str]:
    """.env (if present) overlaid by the process environment, like the app's own settings."""
    values: dict[str, str] = {}
    if env_file.is_file():
        from dotenv import dotenv_values

        values.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
    values.update(os.environ)
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m manifest", description="Build the Teams app package.")
    parser.add_argument("--out", default=str(DEFAULT_OUT), help=f"zip to write (default {DEFAULT_OUT})")
    parser.add_argument("--env-file", default=".env", help="optional dotenv file read before the environment")
    parser.add_argument("--print", action="store_true", help="print the manifest instead of writing the zip")
    args = parser.parse_args(argv)

    try:
        from bot.registry import build_registry
    except ImportError as e:
        print(f"error: cannot load the skill registry (bot.registry.build_registry): {e}", file=sys.stderr)
        return 2
    registry = build_registry()
    env = _environment(Path(args.env_file))
    try:
        if args.print:
            print(json.dumps(build_manifest(registry, env), ensure_ascii=False, indent=2))
            return 0
        out = write_package(registry, env, args.out)
    except ManifestError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out} (upload it in Teams: Apps > Manage your apps > Upload an app)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
