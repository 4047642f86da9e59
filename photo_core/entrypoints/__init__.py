"""Entry points: what each trigger does (handlers) and the command line (cli, cli_ops)."""
