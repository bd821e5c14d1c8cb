"""``python -m reference_crm``: the app's command line (see ``cli.py``)."""

from reference_crm.cli import main

if __name__ == "__main__":
    main()
