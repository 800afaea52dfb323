"""Entry points: Lambda handlers, the CLI, and the composition they share."""
