"""The change-set engine: every bulk change, whatever its source, is a change set with the same
money, approval, confirmation, apply and revert.

- ``money``: what a change set moves, per transition and currency, by partner and offer;
- ``approval``: four-eyes, decided here for every source (with the user's rolling window);
- ``selection``: the source of Conversion Management's buttons and selected-rows action.
"""
