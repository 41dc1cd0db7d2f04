"""The benchmarks' tracking server: the tracking tier's application (``gokart.tracking``) under
``bench.tracking_floor_settings`` (its settings, plus the floor route). Never deployed."""

from gokart.tracking import tracking_application

application = tracking_application("bench.tracking_floor_settings")
