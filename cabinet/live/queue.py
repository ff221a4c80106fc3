"""The Socket.IO message queue (Redis) that carries broadcasts between processes.

python-socketio's ``RedisManager`` with three changes, for when Redis goes away and comes back:

* every broadcast still reaches the clients of the process that sends it (python-socketio
  delivers locally before publishing); publishing to the other processes fails fast (short
  timeouts, one retry) and is logged once per outage, not twice per broadcast;
* the listener reconnects every few seconds at most (python-socketio doubles its wait up to a
  minute, so broadcasts from other processes could stay away for a minute after Redis is back);
* the listener has a connection of its own, so a publish that reconnects cannot swap the
  subscription from under it.

A broadcast published while Redis is down is lost for the other processes' clients; they catch up
with ``meeting.state`` when they reconnect or re-join (docs/realtime.md).
"""

from __future__ import annotations

import contextlib
import time

import socketio
from flask import Flask

from cabinet.core.resilience import Outage, redis_client_options

MESSAGE_QUEUE = Outage(
    "Redis (REDIS_URL), the Socket.IO message queue",
    "changes are still saved and still reach the clients of this process, but clients connected to "
    "other processes only see them when they reconnect; retrying every few seconds")

#: The listener's waits between reconnection attempts: doubling from the first to the last.
LISTEN_RETRY_FIRST_SECONDS = 0.5
LISTEN_RETRY_MAX_SECONDS = 4.0


class CabinetRedisManager(socketio.RedisManager):
    """See the module's docstring."""

    def _publish(self, data):
        for attempt in (1, 2):  # the second after a fresh connection
            try:
                if not self.connected:
                    self._redis_connect()
                receivers = self.redis.publish(self.channel, self.json.dumps(data))
            except Exception as error:  # noqa: BLE001 - reported; the caller's change is saved
                self.connected = False
                if attempt == 2:
                    MESSAGE_QUEUE.failed(error)
            else:
                MESSAGE_QUEUE.recovered()
                return receivers
        return None

    def _handle_close_room(self, message):
        # Run in every process (this one included) for each close_room: closing a meeting
        # membership room also takes its sockets out of the meeting's room, so a participant
        # removed through another process stops hearing the room (cabinet.live.events).
        from cabinet.live.events import leave_with_member_room

        leave_with_member_room(self, message.get("room"), message.get("namespace") or "/")
        super()._handle_close_room(message)

    def _redis_listen_with_retries(self):
        module = self._get_redis_module()
        wait = LISTEN_RETRY_FIRST_SECONDS
        while True:
            client = pubsub = None
            try:
                client = module.Redis.from_url(self.redis_url, **self.redis_options)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                MESSAGE_QUEUE.recovered()
                wait = LISTEN_RETRY_FIRST_SECONDS
                yield from pubsub.listen()
            except Exception as error:  # noqa: BLE001 - reported once per outage; we retry
                MESSAGE_QUEUE.failed(error)
            finally:
                for connection in (pubsub, client):
                    if connection is not None:
                        with contextlib.suppress(Exception):
                            connection.close()
            time.sleep(wait)  # cooperative under gevent (the standard library is patched)
            wait = min(wait * 2, LISTEN_RETRY_MAX_SECONDS)


def socketio_options(app: Flask) -> dict:
    """Keyword arguments for ``socketio.init_app``: the message queue (with ``REDIS_URL``) and the
    async mode."""
    options: dict = {"async_mode": app.config["SOCKETIO_ASYNC_MODE"]}
    url = app.config.get("REDIS_URL")
    if url:
        options["client_manager"] = CabinetRedisManager(url, channel=app.config["SOCKETIO_CHANNEL"],
                                                        redis_options=redis_client_options())
    else:  # Flask-SocketIO's own default, without a queue (the channel is then unused)
        options.update(message_queue=None, channel=app.config["SOCKETIO_CHANNEL"])
    return options
