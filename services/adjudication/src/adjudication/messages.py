"""Sentences a buyer (or a seller) can read, in their language, for every machine reason.

A denied claim carries a :data:`~contracts.claims.DenialReason` and a rejected command a
:data:`~contracts.claims.RejectionReason`; :func:`buyer_message` turns either into a
:class:`~contracts.claims.BuyerMessage` in English, French or Spanish.

* **Templates.** :data:`TEMPLATES` holds one sentence per reason and language. A sentence may
  name parameters (``{earliest_date}``), filled with :meth:`str.format_map`; :data:`PARAMETERS`
  lists, per reason, exactly the names its sentences use (the tests hold every translation to
  it).
* **Values.** A parameter is a ``str`` (used as is), a ``date`` or ``datetime`` (written as a
  date for humans: "March 12, 2026", "12 mars 2026", "12 de marzo de 2026"; a datetime is shown
  by its own date, so convert it to the marketplace's time zone first) or a
  :class:`~contracts.base.Money` ("EUR 2,500.00", "2 500,00 EUR", "2.500,00 EUR", with the
  currency's own number of decimals). Month names are written here: no dependence on the
  host's locales.
* **Language.** ``fr-CA`` (or ``fr_CA``, ``FR``) falls back to ``fr``; a language not
  supported falls back to ``default_language``, then to English. The message says which
  language it is actually written in.
* **Errors.** An unknown reason raises ``KeyError``; a missing parameter raises ``ValueError``
  naming it. Parameters a sentence does not use are ignored, so a caller may pass everything
  it knows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Final, cast, get_args

from contracts.base import CURRENCY_MINOR_UNITS, Money
from contracts.claims import BuyerMessage, DenialReason, RejectionReason

__all__ = [
    "ALL_REASONS",
    "LANGUAGES",
    "PARAMETERS",
    "SUPPORTED_LANGUAGES",
    "TEMPLATES",
    "Language",
    "MessageParameter",
    "MessageReason",
    "Written",
    "buyer_message",
    "buyer_message_from",
    "format_date",
    "format_money",
]

Language = str
"""A language buyers are written to in: a key of :data:`LANGUAGES` ("en", "fr", "es")."""

MessageReason = DenialReason | RejectionReason
"""Every reason a buyer or seller may be given a sentence for."""

MessageParameter = str | date | Money
"""What a sentence parameter may be: text as is, a date (or datetime), or money."""

# One sentence per reason and language. French and Spanish sentences address the reader
# formally (vous, usted). Keep "du {date}" / "jusqu'au {date}" / "del {date}": dates are
# formatted without an article ("12 mars 2026"), so the sentence brings its own.
TEMPLATES: Final[Mapping[MessageReason, Mapping[Language, str]]] = {
    # --- denial reasons ----------------------------------------------------------------
    "not_covered": {
        "en": "This order is not covered by the buyer guarantee because it was sold or shipped "
        "by the marketplace itself.",
        "fr": "Cette commande n'est pas couverte par la garantie acheteur, car elle a été vendue "
        "ou expédiée par la plateforme elle-même.",
        "es": "Este pedido no está cubierto por la garantía al comprador porque lo vendió o lo "
        "envió la propia plataforma.",
    },
    "excluded_item": {
        "en": "Digital items and gift cards are not covered by the buyer guarantee.",
        "fr": "Les articles numériques et les cartes cadeaux ne sont pas couverts par la garantie "
        "acheteur.",
        "es": "Los artículos digitales y las tarjetas regalo no están cubiertos por la garantía "
        "al comprador.",
    },
    "chargeback_already_filed": {
        "en": "You have already disputed this payment with your card issuer, so a claim cannot "
        "also be filed for this order.",
        "fr": "Vous avez déjà contesté ce paiement auprès de l'émetteur de votre carte, une "
        "réclamation ne peut donc pas aussi être déposée pour cette commande.",
        "es": "Ya ha impugnado este pago ante el emisor de su tarjeta, por lo que no se puede "
        "presentar también una reclamación para este pedido.",
    },
    "contact_seller_first": {
        "en": "Please contact the seller first, and if they have not resolved the problem by "
        "{contact_until}, you can file a claim.",
        "fr": "Veuillez d'abord contacter le vendeur, et s'il n'a pas résolu le problème d'ici "
        "le {contact_until}, vous pourrez déposer une réclamation.",
        "es": "Póngase primero en contacto con el vendedor y, si el {contact_until} aún no ha "
        "resuelto el problema, podrá presentar una reclamación.",
    },
    "filed_too_early": {
        "en": "You can file this claim from {earliest_date}.",
        "fr": "Vous pourrez déposer cette réclamation à partir du {earliest_date}.",
        "es": "Podrá presentar esta reclamación a partir del {earliest_date}.",
    },
    "filed_too_late": {
        "en": "The period for filing a claim on this order ended on {latest_date}.",
        "fr": "Le délai pour déposer une réclamation sur cette commande a pris fin le "
        "{latest_date}.",
        "es": "El plazo para presentar una reclamación sobre este pedido terminó el {latest_date}.",
    },
    "claim_already_open": {
        "en": "A claim is already open for this order.",
        "fr": "Une réclamation est déjà ouverte pour cette commande.",
        "es": "Ya hay una reclamación abierta para este pedido.",
    },
    "amount_over_order_total": {
        "en": "The amount claimed is more than the order total including shipping ({order_total}).",
        "fr": "Le montant réclamé dépasse le total de la commande, frais de livraison compris "
        "({order_total}).",
        "es": "El importe reclamado supera el total del pedido con los gastos de envío "
        "incluidos ({order_total}).",
    },
    "amount_over_cap": {
        "en": "The amount claimed is more than the guarantee's limit of {cap} per claim.",
        "fr": "Le montant réclamé dépasse le plafond de la garantie, fixé à {cap} par réclamation.",
        "es": "El importe reclamado supera el límite de la garantía, de {cap} por reclamación.",
    },
    "currency_mismatch": {
        "en": "Please file the claim in the currency of the order ({currency}).",
        "fr": "Veuillez déposer la réclamation dans la devise de la commande ({currency}).",
        "es": "Presente la reclamación en la moneda del pedido ({currency}).",
    },
    "unknown_order": {
        "en": "We could not find this order, so please check the order number and try again.",
        "fr": "Nous n'avons pas trouvé cette commande, veuillez vérifier son numéro et réessayer.",
        "es": "No hemos encontrado este pedido, compruebe el número de pedido e inténtelo de "
        "nuevo.",
    },
    "reviewer_denied": {
        "en": "After reviewing your claim and the evidence, we could not grant it.",
        "fr": "Après examen de votre réclamation et des justificatifs, nous ne pouvons pas y "
        "donner une suite favorable.",
        "es": "Tras revisar su reclamación y las pruebas, no podemos aceptarla.",
    },
    "appeal_window_closed": {
        "en": "The period for appealing this decision ended on {appeal_until}.",
        "fr": "Le délai pour faire appel de cette décision a pris fin le {appeal_until}.",
        "es": "El plazo para recurrir esta decisión terminó el {appeal_until}.",
    },
    "already_refunded": {
        "en": "This order has already been refunded {refunded}; a claim can ask for at most "
        "what remains ({remaining}).",
        "fr": "Cette commande a déjà été remboursée de {refunded} ; une réclamation peut "
        "demander au plus ce qui reste ({remaining}).",
        "es": "Este pedido ya se ha reembolsado por {refunded}; una reclamación puede pedir "
        "como máximo lo que queda ({remaining}).",
    },
    # --- rejection reasons -------------------------------------------------------------
    "not_your_claim": {
        "en": "This claim belongs to another account, so you cannot act on it.",
        "fr": "Cette réclamation appartient à un autre compte, vous ne pouvez donc pas agir "
        "dessus.",
        "es": "Esta reclamación pertenece a otra cuenta, por lo que no puede actuar sobre ella.",
    },
    "role_not_allowed": {
        "en": "Your account cannot take this action on a claim.",
        "fr": "Votre compte ne permet pas d'effectuer cette action sur une réclamation.",
        "es": "Su cuenta no permite realizar esta acción sobre una reclamación.",
    },
    "claim_not_found": {
        "en": "We could not find this claim.",
        "fr": "Nous n'avons pas trouvé cette réclamation.",
        "es": "No hemos encontrado esta reclamación.",
    },
    "action_not_available": {
        "en": "This action is not available for this claim at the moment.",
        "fr": "Cette action n'est pas possible pour cette réclamation pour le moment.",
        "es": "Esta acción no está disponible para esta reclamación en este momento.",
    },
    "deadline_passed": {
        "en": "The deadline for this action passed on {deadline}.",
        "fr": "Le délai pour cette action a expiré le {deadline}.",
        "es": "El plazo para esta acción venció el {deadline}.",
    },
    "refund_currency_mismatch": {
        "en": "Please refund in the currency of the order ({currency}).",
        "fr": "Veuillez rembourser dans la devise de la commande ({currency}).",
        "es": "Reembolse en la moneda del pedido ({currency}).",
    },
    "replacement_estimate_out_of_bounds": {
        "en": "A replacement must be estimated to arrive by {latest_date}, and not in the past.",
        "fr": "Un remplacement doit avoir une livraison estimée au plus tard le {latest_date}, "
        "et pas dans le passé.",
        "es": "Un reemplazo debe tener una entrega estimada a más tardar el {latest_date}, y "
        "no en el pasado.",
    },
    "event_time_out_of_bounds": {
        "en": "The time given for this action is not believable, so it was not taken.",
        "fr": "L'heure indiquée pour cette action n'est pas plausible : elle n'a pas été prise "
        "en compte.",
        "es": "La hora indicada para esta acción no es verosímil, por lo que no se ha tenido en "
        "cuenta.",
    },
}

_NONE: Final[frozenset[str]] = frozenset()

PARAMETERS: Final[Mapping[MessageReason, frozenset[str]]] = {
    "not_covered": _NONE,
    "excluded_item": _NONE,
    "chargeback_already_filed": _NONE,
    "contact_seller_first": frozenset({"contact_until"}),  # date the seller's window ends
    "filed_too_early": frozenset({"earliest_date"}),  # first date the claim is admissible
    "filed_too_late": frozenset({"latest_date"}),  # last date a claim could be filed
    "claim_already_open": _NONE,
    "amount_over_order_total": frozenset({"order_total"}),  # Money, shipping included
    "amount_over_cap": frozenset({"cap"}),  # Money, in the order's currency
    "currency_mismatch": frozenset({"currency"}),  # the order's ISO 4217 code
    "unknown_order": _NONE,
    "reviewer_denied": _NONE,
    "appeal_window_closed": frozenset({"appeal_until"}),  # last date an appeal was possible
    "already_refunded": frozenset({"refunded", "remaining"}),  # Money, in the order's currency
    "not_your_claim": _NONE,
    "role_not_allowed": _NONE,
    "claim_not_found": _NONE,
    "action_not_available": _NONE,
    "deadline_passed": frozenset({"deadline"}),  # date the action's deadline passed
    "refund_currency_mismatch": frozenset({"currency"}),  # the order's ISO 4217 code
    "replacement_estimate_out_of_bounds": frozenset({"latest_date"}),  # latest estimate allowed
    "event_time_out_of_bounds": _NONE,
}
"""The parameters each reason's sentences take, the same in every language."""

ALL_REASONS: Final[frozenset[str]] = frozenset(get_args(DenialReason)) | frozenset(
    get_args(RejectionReason)
)
"""Every reason value of the contracts, denial and rejection alike."""


@dataclass(frozen=True, slots=True)
class Written:
    """How one language writes a date and an amount of money."""

    months: tuple[str, ...]
    date: str
    """The date's pattern, of ``{day}``, ``{month}`` and ``{year}``."""
    thousands: str
    decimal: str
    code_first: bool
    """The currency code before the amount ("EUR 2,500.00") or after it ("2 500,00 EUR")."""
    first_of_month: str | None = None
    """How the first day of a month is written, when not as "1" (French "1er")."""


LANGUAGES: Final[Mapping[Language, Written]] = {
    "en": Written(
        months=(
            "January",
            "February",
            "March",
            "April",
            "May",
            "June",
            "July",
            "August",
            "September",
            "October",
            "November",
            "December",
        ),
        date="{month} {day}, {year}",
        thousands=",",
        decimal=".",
        code_first=True,
    ),
    "fr": Written(
        months=(
            "janvier",
            "février",
            "mars",
            "avril",
            "mai",
            "juin",
            "juillet",
            "août",
            "septembre",
            "octobre",
            "novembre",
            "décembre",
        ),
        date="{day} {month} {year}",
        thousands=" ",  # a plain space, as French is usually typed
        decimal=",",
        code_first=False,
        first_of_month="1er",
    ),
    "es": Written(
        months=(
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ),
        date="{day} de {month} de {year}",
        thousands=".",
        decimal=",",
        code_first=False,
    ),
}
"""Every language buyers are written to in: one entry here and its sentences in
:data:`TEMPLATES` add one (a policy naming a language missing here is refused at load)."""

SUPPORTED_LANGUAGES: Final[tuple[Language, ...]] = tuple(LANGUAGES)


def format_date(day: date, language: Language) -> str:
    """A date for humans: "March 12, 2026", "12 mars 2026" (1er for the first), "12 de marzo
    de 2026". A datetime is written by its own date (convert it to local time first). A
    language not in :data:`LANGUAGES` raises ``KeyError``: never another language's form."""
    written = LANGUAGES[language]
    first = day.day == 1 and written.first_of_month is not None
    shown = written.first_of_month if first else str(day.day)
    return written.date.format(day=shown, month=written.months[day.month - 1], year=day.year)


def format_money(money: Money, language: Language) -> str:
    """Money for humans: "EUR 2,500.00", "2 500,00 EUR", "2.500,00 EUR" (JPY without decimals)."""
    written = LANGUAGES[language]
    digits = CURRENCY_MINOR_UNITS[money.currency]
    english = f"{money.amount:,.{digits}f}"  # "2,500.00"
    number = english.translate({ord(","): written.thousands, ord("."): written.decimal})
    return f"{money.currency} {number}" if written.code_first else f"{number} {money.currency}"


def _format_value(name: str, value: MessageParameter, language: Language) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Money):
        return format_money(value, language)
    if isinstance(value, date):  # datetime included
        return format_date(value, language)
    raise TypeError(f"parameter {name!r} must be text, a date or Money, got {value!r}")


def _resolve_language(language: str | None, default_language: str) -> Language:
    for candidate in (language, default_language):
        if candidate:
            primary = candidate.replace("_", "-").split("-", 1)[0].lower()
            for supported in SUPPORTED_LANGUAGES:
                if primary == supported:
                    return supported
    return "en"


def buyer_message(
    reason: str,
    language: str | None,
    *,
    default_language: str = "en",
    **params: MessageParameter,
) -> BuyerMessage:
    """The sentence for ``reason`` in the reader's language, its parameters filled in.

    ``language`` is a BCP 47 tag or None; ``fr-CA`` falls back to ``fr``, an unsupported one to
    ``default_language``, then to English. ``params`` fill the sentence (see
    :data:`PARAMETERS`); dates and Money are written per language, text as is, and unused
    parameters are ignored.

    Raises ``KeyError`` for an unknown reason and ``ValueError`` naming missing parameters.
    """
    return buyer_message_from(reason, language, params, default_language=default_language)


def buyer_message_from(
    reason: str,
    language: str | None,
    params: Mapping[str, MessageParameter],
    *,
    default_language: str = "en",
) -> BuyerMessage:
    """:func:`buyer_message` with its parameters in a mapping.

    For a caller holding a dict of everything it knows: type checkers refuse ``**a_dict`` where
    a keyword such as ``default_language`` could collide with it.
    """
    if reason not in TEMPLATES:
        raise KeyError(f"no buyer message for unknown reason {reason!r}")
    known = cast(MessageReason, reason)
    missing = PARAMETERS[known] - params.keys()
    if missing:
        raise ValueError(
            f"buyer message {reason!r} needs parameter(s) {', '.join(sorted(missing))}"
        )
    chosen = _resolve_language(language, default_language)
    values = {name: _format_value(name, value, chosen) for name, value in params.items()}
    return BuyerMessage(language=chosen, text=TEMPLATES[known][chosen].format_map(values))
