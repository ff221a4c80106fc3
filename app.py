"""Entry point.

    flask --app app db upgrade     # build or upgrade the schema
    flask --app app demo           # demo accounts
    python app.py                  # serve on http://127.0.0.1:5000 (gevent, websockets)

Production runs gunicorn instead (see docs/operations.md); this file only builds the app (and,
under ``__main__``, starts the in-app job consumer: see cabinet/jobs.py).
"""

import os

if __name__ == "__main__" and os.environ.get("CABINET_ASYNC_MODE", "gevent") == "gevent":
    # gevent must patch the standard library before anything else imports it.
    from gevent import monkey

    monkey.patch_all()
    os.environ.setdefault("CABINET_ASYNC_MODE", "gevent")

from cabinet import create_app, jobs  # noqa: E402
from cabinet.extensions import socketio  # noqa: E402

app = create_app()

if __name__ == "__main__":
    host = os.environ.get("CABINET_HOST", "127.0.0.1")
    port = int(os.environ.get("CABINET_PORT", "5000"))
    # Serving: close what passed its deadline while we were down, start the in-app job consumer.
    # (gunicorn does the same in gunicorn.conf.py; `flask` commands and tests never do.)
    jobs.start_embedded(app)
    print(f"e-Cabinet is serving on http://{host}:{port}/  (Ctrl+C to stop)", flush=True)
    socketio.run(app, host=host, port=port)
