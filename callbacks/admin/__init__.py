"""Admin pages of the callbacks app: partners (health, pause, secrets), callback deliveries
(resend, replay), and the "Callback sent" column and filter that Conversion Management mixes
in."""

from callbacks.admin.callback_sent import CallbackSentListFilter, ConversionCallbackMixin
from callbacks.admin.deliveries import CallbackDeliveryAdmin
from callbacks.admin.delivery_display import delivery_state_badge
from callbacks.admin.partner_secret import signing_secret_mask
from callbacks.admin.partners import PartnerAdmin

__all__ = [
    "CallbackDeliveryAdmin",
    "CallbackSentListFilter",
    "ConversionCallbackMixin",
    "PartnerAdmin",
    "delivery_state_badge",
    "signing_secret_mask",
]
