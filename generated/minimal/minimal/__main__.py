"""``python -m minimal``: the app's command line (see ``cli.py``)."""

from minimal.cli import main

if __name__ == "__main__":
    main()
