"""The papers paperlab reproduces, one package each."""
