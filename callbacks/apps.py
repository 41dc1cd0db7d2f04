from django.apps import AppConfig


class CallbacksConfig(AppConfig):
    name = "callbacks"
    verbose_name = "Partner callbacks"

    def ready(self) -> None:
        # Registers the dispatch task with callbacks.dispatch, in every process.
        from callbacks import tasks  # noqa: F401
