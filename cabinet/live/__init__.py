"""Real time over Socket.IO: authentication of connections now; meeting rooms later."""
