"""Money: an amount in a currency (``Money``), read from what a person types (``20USD``,
``20 USD``, ``$20``), shown as people read it (``$1.75``, ``3.50 EUR``), and units counted in
money at Kling's list price (``units_in_money``). No currency is ever converted into another."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Any

import attrs

from ._catalog import UNIT_PRICE, UNIT_PRICE_CURRENCY
from .errors import ValidationError

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)"
_FORMS = re.compile(
    rf"^\s*(?:\$\s*(?P<dollars>{_NUMBER})(?:\s*USD)?|(?P<amount>{_NUMBER})\s*(?P<code>[A-Z]{{3}}))\s*$",
    re.IGNORECASE,
)
_RULE = "an amount and a currency code: 20USD, 20 USD, 20.5usd or $20"


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError("amount", value, "must be a number (a Decimal, int, float or str)")
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValidationError("amount", value, "must be a number") from None


def _code(value: Any) -> str:
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z]{3}", value):
        raise ValidationError("currency", value, "must be a 3-letter currency code, e.g. USD")
    return value.upper()


@attrs.frozen
class Money:
    """An amount of money in a currency (an ISO 4217 code, upper case): what a batch may spend
    (``max_cost``), or what Kling charged. ``Money.parse("20USD")`` reads the forms a person
    types; ``Money(Decimal("20"), "USD")`` builds one. The amount is finite and never
    negative."""

    amount: Decimal = attrs.field(converter=_decimal)
    currency: str = attrs.field(default=UNIT_PRICE_CURRENCY, converter=_code)

    @amount.validator
    def _check_amount(self, _: Any, value: Decimal) -> None:
        if not value.is_finite():
            raise ValidationError("amount", value, "must be a finite number")
        if value < 0:
            raise ValidationError("amount", value, "must be >= 0")

    @classmethod
    def parse(cls, text: str | Money, *, field: str = "max_cost") -> Money:
        """``20USD``, ``20 USD``, ``20.5usd``, ``$20`` (dollars) as ``Money``; anything else
        (a bare number, NaN, a negative amount) is a ``ValidationError`` naming ``field``."""
        if isinstance(text, Money):
            return text
        found = _FORMS.match(text) if isinstance(text, str) else None
        if found is None:
            raise ValidationError(field, text, f"must be {_RULE}")
        amount = found["dollars"] or found["amount"]
        code = "USD" if found["dollars"] is not None else found["code"]
        try:
            return cls(Decimal(amount), code)
        except ValidationError as exc:
            raise ValidationError(field, text, f"{exc.field} {exc.rule}") from None

    def __str__(self) -> str:
        return money_text(self.amount, self.currency)


def money_text(amount: Decimal | float, currency: str) -> str:
    """``$1.75``, ``$0.0035``, ``$1,200.00``, ``3.50 EUR``: two decimals, up to four when the
    amount needs them."""
    value = Decimal(str(amount))
    text = f"{value:,.4f}".rstrip("0")
    whole, _, cents = text.partition(".")
    text = f"{whole}.{cents.ljust(2, '0')}"
    return f"${text}" if currency == "USD" else f"{text} {currency}"


def as_budget(value: str | Money, *, field: str = "max_cost") -> Money:
    """``value`` as a budget in money (``Money.parse``'s forms), in the currency of Kling's
    unit price: a budget counts jobs at that price, and no currency is converted."""
    money = Money.parse(value, field=field)
    if money.currency != UNIT_PRICE_CURRENCY:
        price = money_text(UNIT_PRICE, UNIT_PRICE_CURRENCY)
        raise ValidationError(
            field,
            value if isinstance(value, str) else str(value),
            f"must be in {UNIT_PRICE_CURRENCY}, the currency of Kling's unit price ({price} a "
            "unit); no currency is converted",
        )
    return money


def units_in_money(units: float) -> Money:
    """What ``units`` cost at Kling's list price (``UNIT_PRICE``, $0.14 a unit)."""
    return Money(Decimal(str(units)) * UNIT_PRICE, UNIT_PRICE_CURRENCY)


__all__ = ["Money", "as_budget", "money_text", "units_in_money"]


def budget_in_units(max_units: float | None, max_cost: Money | None) -> float | None:
    """One limit in units for both budgets (the smaller; ``max_cost`` at the unit price), or
    None when neither is given: what queue workers share (``animate --redis``)."""
    limits = [] if max_units is None else [float(max_units)]
    if max_cost is not None:
        limits.append(float(max_cost.amount / UNIT_PRICE))
    return min(limits) if limits else None
