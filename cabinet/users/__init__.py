"""People: accounts, roles, clearances, and the admin pages that manage them."""
