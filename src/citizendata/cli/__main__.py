"""`python -m citizendata.cli`."""

from citizendata.cli import main

main()
