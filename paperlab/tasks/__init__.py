"""One module per subcommand: `run(cfg) -> dict` (pure, testable without the CLI) and a Hydra `main`."""
