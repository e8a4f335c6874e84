from django.apps import AppConfig


class LeadownerConfig(AppConfig):
    name = "leadowner"
    verbose_name = "Platform (tokens, jobs)"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed

        from leadowner import audit, checks  # noqa: F401 -- checks registers the system checks

        # The access audit (leadowner.audit): manager sign-ins and failed attempts.
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="leadowner.audit.logged_in")
        user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="leadowner.audit.login_failed")
