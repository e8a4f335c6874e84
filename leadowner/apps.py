from django.apps import AppConfig


class LeadownerConfig(AppConfig):
    name = "leadowner"
    verbose_name = "Platform (tokens, jobs)"
