"""Built-in rules, one module each; the rule id is the module name with dashes."""
