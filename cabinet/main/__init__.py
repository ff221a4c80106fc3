"""The home page and what every page shares (language switch)."""
