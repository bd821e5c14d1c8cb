"""Inline specs the render tests generate from (Copier-style: written here, not in files).

``EVERYTHING`` has every field type and every relation kind: many-to-one with each on_delete,
one-to-one, many-to-many, a self-reference of each kind, indexes and unique-together, soft
delete, extra User fields, and labels full of hostile text (quotes, braces, triple quotes,
newlines, backslashes) that must reach the generated Python only as safe literals.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MINIMAL = ROOT / "examples" / "minimal" / "app.yaml"


EVERYTHING = r"""
app:
  name: every_crm
  title: {en: "Every \"CRM\" {{ app }} \\ \"\"\" it's", ru: 'Всё "CRM"'}
  locales: [en, ru]
roles:
  admin: {superuser: true}
  sales: Sales
entities:
  User:
    fields:
      position: {type: ref, to: Position, on_delete: set_null, back: employees}
      phone: phone
  Position:
    fields:
      name: {type: string, required: true, unique: true, max_length: 80}
  Company:
    label: {en: "Company \"\"\" {{ x }} {% if %} \\ '", ru: "Компания\nвторая строка"}
    description: "Line one\nline two with a trailing backslash \\"
    soft_delete: true
    fields:
      name: {type: string, required: true, min_length: 2, max_length: 200, label: "Name 'single' \"double\""}
      parent: {type: ref, to: Company, on_delete: set_null, back: children}
      owner: {type: ref, to: User, back: owned_companies}
      partners: {type: refs, to: Company, back: partner_of}
    indexes:
      - {fields: [name, owner], unique: true}
  Contact:
    label: "Contact\\nwith backslash-n and a real\nnewline"
    owner: owner
    fields:
      full_name: {type: string, required: true, max_length: 120}
      notes: {type: text, max_length: 5000}
      age: {type: integer, min: 0, max: 150, default: 18}
      score: {type: decimal, precision: 10, scale: 4, min: -1.5, max: 1.5}
      budget: {type: money, min: 0, default: 9.99}
      vip: {type: boolean, default: false}
      birthday: {type: date, default: 2000-01-31}
      last_call: {type: datetime, default: "2024-05-06T07:08:00+00:00"}
      email: {type: email, unique: true}
      phone: {type: phone, index: true}
      website: url
      status:
        type: enum
        values:
          new: {label: "New \"one\" {{ }}"}
          in_progress: {label: "In progress\\"}
          done: Done
        default: new
      extra: json
      photo: {type: file, accept: [image/png]}
      company: {type: ref, to: Company, on_delete: cascade, back: contacts}
      referrer: {type: ref, to: Contact, back: referrals}
      owner: {type: ref, to: User, back: owned_contacts}
      tags: {type: refs, to: Tag, back: contacts}
      related: {type: refs, to: Contact, back: related_of, through: contact_links}
    indexes:
      - [status, birthday]
    permissions:
      sales: own
  Tag:
    timestamps: false
    fields:
      name: {type: string, required: true, unique: true, max_length: 40}
  Passport:
    fields:
      number: {type: string, required: true, max_length: 20}
      holder: {type: ref, to: Contact, one_to_one: true, required: true, on_delete: restrict, back: passport}
      mentor: {type: ref, to: Passport, one_to_one: true, back: mentee}
"""
