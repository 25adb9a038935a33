"""Developer tools that run beside the bot on a developer's machine (never deployed)."""
