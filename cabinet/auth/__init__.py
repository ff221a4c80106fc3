"""Proving who someone is: passwords, second factor, lockout, sessions and API tokens."""
