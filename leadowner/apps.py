from django.apps import AppConfig


class LeadownerConfig(AppConfig):
    name = "leadowner"
    verbose_name = "Platform (tokens, jobs)"

    def ready(self) -> None:
        from django.contrib.auth.signals import user_logged_in, user_login_failed
        from django.db.backends.signals import connection_created
        from django.db.models import Field, ForeignObject

        from leadowner import audit, checks, prepared  # noqa: F401 -- checks registers the system checks
        from leadowner.lookups import AnyOf

        # `__any_of`: batch reads' long id lists as one array (leadowner.lookups). Foreign keys
        # see only the lookups registered on ForeignObject and below.
        Field.register_lookup(AnyOf)
        ForeignObject.register_lookup(AnyOf)

        connection_created.connect(prepared.on_connection_created, dispatch_uid="leadowner.prepared.connection")

        # The access audit (leadowner.audit): manager sign-ins and failed attempts.
        user_logged_in.connect(audit.on_user_logged_in, dispatch_uid="leadowner.audit.logged_in")
        user_login_failed.connect(audit.on_user_login_failed, dispatch_uid="leadowner.audit.login_failed")
