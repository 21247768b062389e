"""Alerting: verdict changes and events → alerts → sinks (Slack, webhook, Alertmanager).

    settings.py     the [alerts] config models
    model.py        Alert, Notification (immutable; JSON round-trip)
    rules.py        the state machine: hold, escalate, repeat, resolve, event rules
    inhibit.py      inhibition: an alert that fires holds back those of the same root cause
    routing.py      per-sink routing: which alerts of a notification each sink is sent
    dispatcher.py   the tail Consumer: rules → inhibition → groups → routing → outbox
    outbox.py       durable outbox in the SQLite state file
    silences.py     silences: model, globs, durations, their tables in the state file
    muting.py       what silences hold back, and what is sent when they end
    sender.py       delivery: backoff, Retry-After, per-sink interval, one thread per sink
    secrets.py      ${VAR} expansion; Secret hides values
    sinks/          the Sink protocol, one module per receiver, HTTP with a total deadline
    checks.py, log.py   the alert-test and alerts commands' library functions
    manage.py       alerts retry / drop: the outbox changed by hand
    testing.py      FakeClock, MemorySink

Nothing is re-exported here: ``threadwatch.config`` imports ``alerts.settings``, which runs
this file first, so whatever it imported (the dispatcher, the outbox, the senders) would load
wherever a config is loaded, ``report`` included, which sends nothing.
"""
