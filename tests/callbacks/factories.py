import factory

from callbacks.models import Partner


class PartnerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Partner

    name = factory.Sequence(lambda n: f"Partner {n}")
    callback_url = ""
    pending_callbacks_enabled = True
    rejected_callbacks_enabled = True
