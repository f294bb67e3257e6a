"""`python -m monitor` is the same as the `monitor` command."""

from monitor.entry import main

if __name__ == "__main__":
    main()
