"""This app's own code: crmgen copies this folder into the app as ``<app>/custom/`` on every
``generate``, ``serve`` and ``publish``, byte for byte, and never changes it.

What the app picks up from here (see docs/extending.md in crmgen):

- ``hooks.py``: ``register(events)`` puts hooks on the writes of any entity;
- ``routes.py``: ``routes``, mounted before the generated routes;
- ``middleware.py``: ``middleware``, added after sign-in;
- ``templates/<name>.html`` and ``static/<file>``: replace the built-in page or file of that name;
- any module with a function a process calls: ``- call: custom.<module>.<function>``
  (``steps.py`` has an example).
"""
