"""Admin pages of the callbacks app: partners, callback deliveries, and the "Callback sent"
column and filter that Conversion Management mixes in."""

from callbacks.admin.callback_sent import CallbackSentListFilter, ConversionCallbackMixin
from callbacks.admin.deliveries import CallbackDeliveryAdmin, delivery_state_badge
from callbacks.admin.partners import PartnerAdmin, signing_secret_mask

__all__ = [
    "CallbackDeliveryAdmin",
    "CallbackSentListFilter",
    "ConversionCallbackMixin",
    "PartnerAdmin",
    "delivery_state_badge",
    "signing_secret_mask",
]
