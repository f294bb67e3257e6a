"""Delivery: hands composed messages to an SMTP server (``smtp``).

Composing them is ``monitor.render``'s job."""
