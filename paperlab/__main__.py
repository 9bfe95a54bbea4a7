"""`python -m paperlab ...` and `torchrun -m paperlab train ...`."""

from paperlab.cli import main

if __name__ == "__main__":
    main()
