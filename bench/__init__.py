"""The benchmark behind ``make bench`` (``python bench/run.py``).

Modules:

``latency``   a sandbox session that adds a simulated Bot API round trip to every call
``backends``  SQLite (a temporary file) and PostgreSQL + Redis (a scratch database and
              a key prefix of the run's own, both removed afterwards)
``driven``    the real application built by ``bot.app.build_runtime``, driven through
              ``tgsandbox`` as a person uses it
``bare``      a bare aiogram-dialog dialog (Windows with TextInput) over the same storage
``form``      part 1: a form step of the application against a step of the bare dialog
``stall``     part 2: how long a password check stalls the event loop
``status``    part 3: the status screen's queries over a large applications table
``stats``     percentiles and the table printer

Nothing here is imported by the application or by its tests, except the smoke
test (tests/bench), which runs these code paths at a tiny size.
"""
