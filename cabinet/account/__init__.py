"""A user's own settings: password, two-step verification, API tokens, language."""
