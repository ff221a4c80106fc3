"""Offline reading on members' tablets: the web app manifest, the service worker and, per meeting,
the list of what a member may keep on the device (never ``Tối mật`` or ``Tuyệt mật``)."""
