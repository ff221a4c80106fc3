"""Meetings (phiên họp): scheduling, participants, attendance, agenda, pre-meeting positions."""
