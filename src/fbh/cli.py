"""Command line entry point (placeholder; filled in by the CLI work)."""
def main(argv=None):
    return 0
