"""Skills and their seed examples: reading, writing and linting them."""
