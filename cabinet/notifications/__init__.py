"""In-app notifications (with an e-mail copy): what a user is told happened, and whether they read it."""
