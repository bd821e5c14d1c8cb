"""The shop's own code (tests/custom): hooks, routes, middleware, templates and a step function."""
