"""Safe use: personal data masked before it leaves, network tiers enforced, forbidden words refused.

Every skill's LLM call passes through `core.ai.AI`, which asks the guard for a `Decision` first.

- `core.guard.pii`: `PiiDetector(settings).detect(text) -> list[Span]` (個人番号 with its check digit, phones,
  e-mail, postal codes, street addresses, birth dates, names via SudachiPy 人名 tags + honorific/label context,
  configurable patterns; public office data passes) and `MaskSession` (one per AI request: `mask`, `restore`,
  `counts`, `summary_ja()`, `has(kind)`; the same value always gets the same placeholder, ［氏名1］).
- `core.guard.policy`: `GuardSettings` (section "guard") and `Guard(settings, gateway).decide(texts,
  requested_tier) -> Decision(tier, endpoint, session, masking, refusal, reason)`; `Guard.mask_messages`.
  reason is None (go), "forbidden_word", "unknown_tier", "no_endpoint_for_tier" (refusal set, nothing sent) or
  "offline" (no endpoint configured at all: skills take their offline path)."""
