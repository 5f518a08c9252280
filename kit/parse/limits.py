"""
Integer limits of amounts, shared by the money readers and their speed-ups.

Amounts are at most :data:`MAX_AMOUNT` in major units, either sign; a larger one becomes
:data:`TOO_LARGE_CENTS` (with its sign), so the schema reports it as a row error.
"""

#: Largest accepted amount in major units; larger ones are row errors.
MAX_AMOUNT = 10**12
#: Sentinel cents for an amount above the limit (kept so the schema reports it).
TOO_LARGE_CENTS = MAX_AMOUNT * 100 + 1
