"""Safe use: personal data masked before it leaves, network tiers enforced, forbidden words refused.

Every skill's LLM call passes through `core.ai.AI`, which asks the guard for a `Decision` first."""
