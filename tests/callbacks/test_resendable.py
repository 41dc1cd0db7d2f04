"""Which callbacks can be resent is one rule (``callbacks.services``): the deliveries page's
confirmation, its Resend button and the service agree on every state."""

import pytest

from callbacks.models import CallbackDelivery
from callbacks.services import callback_deliveries_resend
from tests.callbacks.deliveries_given import CHANGELIST, change_url, resend_url

pytestmark = pytest.mark.django_db

State = CallbackDelivery.State


@pytest.mark.parametrize("state", list(State))
def test_the_admin_offers_to_resend_exactly_what_the_service_resends(
    admin_client, owed_callback, state
):
    # Given a callback in this state
    delivery = owed_callback(state=state, attempts=[(500, "", "")])

    # When an admin selects it for resending, and opens its page
    confirmation = admin_client.post(
        CHANGELIST, {"action": "resend_action", "_selected_action": [str(delivery.pk)]}
    ).text
    offered = "<strong>1 callback</strong> will be sent again" in confirmation
    button = f'href="{resend_url(delivery)}"' in admin_client.get(change_url(delivery)).text

    # Then both offer it exactly when the service resends it
    resent = callback_deliveries_resend(delivery_ids=[delivery.pk])
    assert offered == button == bool(resent) == (state in (State.FAILED, State.DELIVERED))
