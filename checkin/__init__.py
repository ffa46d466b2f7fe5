"""checkin: self-hosted check-in and attendance for one-day training courses."""

__version__ = "0.1.0"
