"""monitor: follow-up news monitoring with bilingual topic rules, a SQLite archive and a daily digest."""

__version__ = "0.1.0"
