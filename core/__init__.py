"""Shared services for skills: settings, the skill contract, LLM gateway, storage, guard, search, clients.

Nothing under core/ imports botbuilder (see ARCHITECTURE: the Teams edge lives in bot/ alone)."""
