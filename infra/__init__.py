"""How the pipeline is wired into an AWS account: state table, templates, subscriptions, posture."""
