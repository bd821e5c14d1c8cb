"""A tiny app over ``rt_crm``, laid out as crmgen lays out an app, for the tests of the command
line, the worker, the scheduler and backups: the modules ``crmgen_runtime.commands`` looks for
(``models``, ``resources``, ``seed``, ``outbox``, ``backup``, ``processes``), its ``cli`` and its
``migrations/``. Its outbox has a ``note`` kind (a deliverer added to the courier, as a plugin
adds one) that records what it delivers in ``DELIVERED`` or fails as its payload says.
"""
