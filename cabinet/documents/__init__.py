"""Dossiers (hồ sơ): documents, versions, distribution, recall, secrecy and watermarks."""
