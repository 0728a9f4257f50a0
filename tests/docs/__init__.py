"""The docs' code blocks and pages, tested."""
