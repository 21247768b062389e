"""Alerting: verdict changes and events → alerts → sinks (Slack, webhook, Alertmanager)."""
