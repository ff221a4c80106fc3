"""e-Cabinet: paperless cabinet meetings.

``create_app()`` builds the Flask application: settings from the environment
(:mod:`cabinet.config`), extensions, blueprints, socket handlers and CLI commands.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask

from cabinet.config import build_config
from cabinet.core.database import install_postgres_holding, install_sqlite_tuning
from cabinet.extensions import babel, csrf, db, limiter, login_manager, migrate, socketio

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def create_app(test_config: dict | None = None) -> Flask:
    """Application factory. ``test_config`` overrides settings (tests, tools)."""
    instance_path = Path(os.environ.get("CABINET_INSTANCE_PATH", PROJECT_ROOT / "instance"))
    app = Flask(
        __name__,
        instance_path=str(instance_path),
        template_folder=str(PROJECT_ROOT / "templates"),
        static_folder=str(PROJECT_ROOT / "static"),
    )
    app.config.from_mapping(build_config(instance_path))
    if test_config:
        app.config.from_mapping(test_config)
    instance_path.mkdir(parents=True, exist_ok=True)
    from cabinet.core import logging as cabinet_logging

    cabinet_logging.init_app(app)  # JSON lines or text (CABINET_LOG_FORMAT), before anything logs
    if app.config["CABINET_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = app.config["CABINET_PROXIES"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)

    install_sqlite_tuning()
    install_postgres_holding()
    db.init_app(app)
    migrate.init_app(app, db, directory=str(PROJECT_ROOT / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    limiter.init_app(app)

    from cabinet import i18n

    babel.init_app(app, locale_selector=i18n.select_locale, timezone_selector=i18n.select_timezone)
    i18n.register(app)

    from cabinet.auth import web as auth_web

    login_manager.init_app(app)
    auth_web.configure_login_manager(app)

    # Handlers must be declared before the first init_app: Flask-SocketIO copies its list of
    # handlers into each new server, but a handler declared after that goes to one server only.
    _register_socket_handlers()
    # The extension object outlives one app (tests, tools build several): forget the previous
    # app's message queue, or an app without REDIS_URL would inherit it.
    socketio.server_options.pop("client_manager", None)
    from cabinet.live.queue import socketio_options  # the Redis queue, made to outlive an outage

    socketio.init_app(
        app,
        **socketio_options(app),
        # Same origin only: the tablets load the page from this server.
        cors_allowed_origins=None,
        manage_session=False,
    )

    from cabinet.core.http import register_error_handlers, register_input_guard
    from cabinet.core.security import register_security_headers

    register_error_handlers(app)
    register_input_guard(app)
    register_security_headers(app)

    _register_blueprints(app)
    from cabinet import metrics

    metrics.init_app(app)  # GET /metrics, the request log line and X-Request-ID (after the blueprints)
    _register_cli(app)
    _import_models()

    from cabinet import jobs

    jobs.init_app(app)  # the job queue (and its `flask jobs` commands); started by app.py / gunicorn
    from cabinet.notifications import handlers as _notification_handlers  # noqa: F401  (meeting/document notices)

    return app


def _import_models() -> None:
    """Import every model module so metadata (and Alembic) sees every table."""
    from cabinet.annotations import models as _annotations  # noqa: F401
    from cabinet.audit import models as _audit  # noqa: F401
    from cabinet.auth import models as _auth  # noqa: F401
    from cabinet.ballots import models as _ballots  # noqa: F401
    from cabinet.documents import models as _documents  # noqa: F401
    from cabinet.live import models as _live  # noqa: F401
    from cabinet.meetings import models as _meetings  # noqa: F401
    from cabinet.minutes import models as _minutes  # noqa: F401
    from cabinet.notifications import models as _notifications  # noqa: F401
    from cabinet.users import models as _users  # noqa: F401


def _register_blueprints(app: Flask) -> None:
    from cabinet.account.routes import bp as account_bp
    from cabinet.annotations.routes import bp as annotations_bp
    from cabinet.api import bp as api_bp
    from cabinet.audit.routes import bp as audit_bp
    from cabinet.auth.routes import bp as auth_bp
    from cabinet.ballots.routes import bp as ballots_bp
    from cabinet.documents.routes import bp as documents_bp
    from cabinet.live.routes import bp as live_bp
    from cabinet.main.routes import bp as main_bp
    from cabinet.meetings.routes import bp as meetings_bp
    from cabinet.minutes.routes import bp as minutes_bp
    from cabinet.notifications.routes import bp as notifications_bp
    from cabinet.users.routes import bp as users_bp

    for blueprint in (main_bp, auth_bp, account_bp, users_bp, audit_bp, meetings_bp, documents_bp,
                      annotations_bp, live_bp, notifications_bp, ballots_bp, minutes_bp, api_bp):
        app.register_blueprint(blueprint)
    from cabinet.offline.routes import bp as offline_bp  # PWA: service worker, manifest, offline lists

    app.register_blueprint(offline_bp)
    from cabinet.health import bp as health_bp  # /healthz, /readyz: answered before the other hooks
    app.register_blueprint(health_bp)
    csrf.exempt(api_bp)  # the API takes bearer tokens only, never cookies: no CSRF exposure


def _register_socket_handlers() -> None:
    from cabinet.annotations import events as _annotation_events  # noqa: F401  (live sync)
    from cabinet.ballots import events as _ballot_events  # noqa: F401  (the live response bar)
    from cabinet.live import events  # noqa: F401  (registers handlers on import)


def _register_cli(app: Flask) -> None:
    from cabinet.audit.cli import audit_cli
    from cabinet.demo import demo_command
    from cabinet.signing.cli import minutes_cli, pki_cli
    from cabinet.users.cli import user_cli

    app.cli.add_command(user_cli)
    app.cli.add_command(audit_cli)
    app.cli.add_command(demo_command)
    app.cli.add_command(pki_cli)
    app.cli.add_command(minutes_cli)
