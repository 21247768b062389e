"""``python -m threadwatch`` runs the command line."""

from threadwatch.cli import main

if __name__ == "__main__":
    main()
