"""Speed-ups apart from the rules.

Each function here names the plain function it must equal, and a test holds the two equal."""
