"""Digests: subscriptions, the period build, the e-mail renderer and the outbox."""
