"""Demo text in the app's language: people, companies, phones, addresses, phrases (Faker).

``Texts(locale, seed)`` makes the text values of the ``seed`` command. The spec's default locale
picks a chain of Faker locales, each provider taken from the first locale that has it in its own
language (``bs``: Bosnian phones and job titles, Croatian names and addresses; English last).
What a field holds comes from its name and its entity's name (``kind``): a person's ``name`` is
a full name, a company's a company name, a ``city`` a city, a ``description`` a paragraph.
Every value is drawn from a generator seeded by the app's random seed, the entity, the field
and the record's index, so the same seed gives the same text whatever else the spec holds.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from faker import Faker
from faker.config import AVAILABLE_LOCALES

from crmgen_runtime.validation import PHONE

# Faker locales per spec locale, best first (en_US, the fallback of all, is added last).
LOCALES = {
    "en": ("en_US",),
    "ru": ("ru_RU",),
    "id": ("id_ID",),
    "bs": ("bs_BA", "hr_HR"),
    "zh": ("zh_CN",),
}
FALLBACK = "en_US"
GENERIC_MODULES = frozenset({"la"})  # providers of no language (Latin lorem ipsum)

# Entities whose records are people, companies, products or job titles (by a word of the name).
PERSON_WORDS = frozenset(
    [
        "user",
        "contact",
        "person",
        "people",
        "employee",
        "lead",
        "member",
        "student",
        "patient",
        "teacher",
        "candidate",
        "applicant",
        "author",
        "driver",
        "guest",
        "agent",
        "staff",
        "doctor",
        "customer",
        "client",
        "owner",
    ]
)
COMPANY_WORDS = frozenset(
    [
        "company",
        "companies",
        "organization",
        "organisation",
        "account",
        "firm",
        "supplier",
        "vendor",
        "partner",
        "business",
        "enterprise",
        "agency",
        "bank",
        "manufacturer",
        "employer",
        "brand",
    ]
)
PRODUCT_WORDS = frozenset(
    [
        "product",
        "item",
        "article",
        "goods",
        "service",
        "part",
        "material",
        "asset",
        "merchandise",
        "sku",
    ]
)
JOB_WORDS = frozenset(["position", "job", "occupation", "profession"])
PERSON_FIELDS = frozenset({"first_name", "last_name", "birthday", "birth_date", "full_name"})

# What a text field holds, by its name (the whole name first, then each word of it).
NAMED = {
    "first_name": "first_name",
    "firstname": "first_name",
    "given_name": "first_name",
    "last_name": "last_name",
    "lastname": "last_name",
    "surname": "last_name",
    "family_name": "last_name",
    "middle_name": "middle_name",
    "patronymic": "middle_name",
    "full_name": "person",
    "fullname": "person",
    "contact_name": "person",
    "person": "person",
    "company_name": "company",
    "job_title": "job",
    "position_title": "job",
    "zip_code": "postcode",
    "postal_code": "postcode",
}
WORDS = {
    "company": "company",
    "organization": "company",
    "organisation": "company",
    "employer": "company",
    "job": "job",
    "occupation": "job",
    "profession": "job",
    "city": "city",
    "phone": "phone",
    "telephone": "phone",
    "mobile": "phone",
    "fax": "phone",
    "email": "email",
    "mail": "email",
    "url": "url",
    "town": "city",
    "country": "country",
    "address": "address",
    "street": "street",
    "zip": "postcode",
    "postcode": "postcode",
    "region": "region",
    "state": "region",
    "province": "region",
    "website": "url",
    "site": "url",
    "homepage": "url",
    "domain": "domain",
    "sku": "code",
    "code": "code",
    "article": "code",
    "barcode": "code",
    "serial": "code",
    "number": "number",
    "description": "paragraph",
    "notes": "paragraph",
    "note": "paragraph",
    "comment": "paragraph",
    "comments": "paragraph",
    "summary": "paragraph",
    "body": "paragraph",
    "details": "paragraph",
    "reason": "paragraph",
    "message": "paragraph",
    "content": "paragraph",
    "remarks": "paragraph",
    "bio": "paragraph",
    "title": "phrase",
    "subject": "phrase",
    "topic": "phrase",
    "gist": "phrase",
    "headline": "phrase",
    "color": "color",
    "colour": "color",
    "iban": "iban",
    "currency": "currency",
    "username": "username",
    "login": "username",
    "chat": "digits",
    "inn": "digits",
    "tax": "digits",
}
TYPES = {"email": "email", "phone": "phone", "url": "url"}


def words(name: str) -> list[str]:
    """``CustomerDetails`` and ``customer_details`` -> ``["customer", "details"]``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return [w for w in spaced.lower().split("_") if w]


def entity_kind(entity: str, field_names: frozenset[str] = frozenset()) -> str:
    """What an entity's records are: person, company, product, job or other."""
    names = words(entity)
    if names and names[-1].rstrip("s") in PERSON_WORDS or field_names & PERSON_FIELDS:
        return "person"
    for kind, vocabulary in (("company", COMPANY_WORDS), ("product", PRODUCT_WORDS)):
        if any(w in vocabulary or w.rstrip("s") in vocabulary for w in names):
            return kind
    return "job" if any(w in JOB_WORDS for w in names) else "other"


def kind(entity_kind: str, name: str, field_type: str) -> str:
    """What a text field of an entity of ``entity_kind`` holds (a key of ``Texts.makers``)."""
    if field_type in TYPES:
        return TYPES[field_type]
    if name in NAMED:
        return NAMED[name]
    if name == "name" or name == "title" and entity_kind == "job":
        return {"person": "person", "company": "company", "product": "product"}.get(
            entity_kind, "job" if entity_kind == "job" else "label"
        )
    if name == "position" or entity_kind == "person" and name == "title":
        return "job"
    for word in words(name):
        if word in WORDS:
            return WORDS[word]
    return "paragraph" if field_type == "text" else "label"


def faker_locales(locale: str) -> tuple[str, ...]:
    """The Faker locales for a spec locale (``ru``, ``pt_BR``, ``pt-BR``), best first."""
    normal = locale.replace("-", "_")
    chain = list(LOCALES.get(normal, ()))
    if not chain:
        language = normal.split("_")[0].lower()
        exact = [name for name in AVAILABLE_LOCALES if name.lower() == normal.lower()]
        home = [name for name in AVAILABLE_LOCALES if name == f"{language}_{language.upper()}"]
        same = sorted(name for name in AVAILABLE_LOCALES if name.startswith(f"{language}_"))
        chain = (exact or home or same)[:1]
    return (*chain, FALLBACK) if FALLBACK not in chain else tuple(chain)


class Texts:
    """Text values in one locale, seeded per value (``make``)."""

    def __init__(self, locale: str, seed: int = 0) -> None:
        self.locales = faker_locales(locale)
        self.fakers = [Faker(name) for name in self.locales]
        self.seed = seed
        self._chosen: dict[str, Faker] = {}
        self.makers: dict[str, Callable[[], str]] = {
            "first_name": lambda: self.call("first_name"),
            "last_name": lambda: self.call("last_name"),
            "middle_name": lambda: self.call("middle_name"),
            "person": lambda: self.call("name"),
            "company": lambda: self.call("company"),
            "job": lambda: self.call("job"),
            "city": lambda: self.call("city"),
            "country": lambda: self.call("country"),
            "address": lambda: self.call("address"),
            "street": lambda: self.call("street_address"),
            "postcode": lambda: self.call("postcode"),
            "region": lambda: self.call("administrative_unit"),
            "url": lambda: self.call("url"),
            "domain": lambda: self.call("domain_name"),
            "email": lambda: self.call("email"),
            "phone": lambda: self._phone(),
            "code": lambda: self.call("bothify", text="??-####").upper(),
            "digits": lambda: self.call("numerify", text="#########"),
            "paragraph": lambda: self.call("paragraph", nb_sentences=2),
            "phrase": lambda: self.call("sentence", nb_words=4).rstrip("."),
            "label": lambda: self._label(),
            "product": lambda: self._product(),
            "color": lambda: self.call("color_name"),
            "iban": lambda: self.call("iban"),
            "currency": lambda: self.call("currency_code"),
            "username": lambda: self.call("user_name"),
        }

    def faker(self, method: str) -> Faker:
        """The first Faker of the chain whose provider of ``method`` speaks its language."""
        if method not in self._chosen:
            chosen = self.fakers[-1]
            for name, faker in zip(self.locales, self.fakers, strict=True):
                provider = getattr(getattr(faker, method, None), "__self__", None)
                module = type(provider).__module__.rsplit(".", 1)[-1]
                if provider is not None and module == name and module not in GENERIC_MODULES:
                    chosen = faker
                    break
            self._chosen[method] = chosen
        return self._chosen[method]

    def call(self, method: str, **options: object) -> str:
        """A value of Faker's ``method`` from the best locale for it (the text, as a string)."""
        return str(getattr(self.faker(method), method)(**options))

    def reseed(self, key: str) -> None:
        """Seed every Faker of the chain for one value (``key`` names it)."""
        for faker in self.fakers:
            faker.seed_instance(f"{self.seed}:{key}")

    def make(self, kind: str, key: str) -> str:
        """A text of ``kind`` for the value named ``key`` (deterministic)."""
        self.reseed(key)
        return self.makers.get(kind, self.makers["label"])()

    def _label(self) -> str:
        """A name for a thing (a deal, a group): a catch phrase where the locale has its own
        (Russian) or has no words of its own, else a short sentence in its language (Chinese:
        Faker's catch phrases are English there)."""
        faker = self.faker("catch_phrase")
        method = getattr(faker.catch_phrase, "__func__", None)
        own = getattr(method, "__module__", "").rsplit(".", 1)[-1]
        localized = own == self.locales[self.fakers.index(faker)]
        has_words = self.faker("sentence") is not self.fakers[-1]
        if localized or not has_words or self.locales[0].startswith("en"):
            return self.call("catch_phrase")
        return self.call("sentence", nb_words=3).rstrip(".")

    def _product(self) -> str:
        return f"{self.call('word').capitalize()} {self.call('bothify', text='??-###').upper()}"

    def _phone(self) -> str:
        phone = self.call("phone_number").split("x")[0].strip()
        return phone if PHONE.fullmatch(phone) else self.call("msisdn")
