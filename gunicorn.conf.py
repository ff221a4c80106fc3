"""gunicorn settings read from the working directory (``gunicorn -k gevent -w 1 app:app``).

Only the start-up hook lives here: every worker process, once it has loaded the app, closes the
ballots whose deadline passed while it was down and (without REDIS_URL) starts its in-app job
consumer. See cabinet/jobs.py and docs/operations.md.
"""


def post_worker_init(worker):
    from cabinet import jobs

    jobs.start_embedded(worker.wsgi)
