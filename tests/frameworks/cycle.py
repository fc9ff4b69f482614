"""What both framework tests share: the erasure catalog as rows, and migrating one step at a
time forward and back, comparing the catalog after each step."""
import sys

# Every registration row, as text: what the migrations wrote.
CATALOG = """
    SELECT 'subject', to_jsonb(s)::text FROM erasure.subjects s
    UNION ALL SELECT 'table', to_jsonb(t)::text FROM erasure.tables t
    UNION ALL SELECT 'policy', to_jsonb(p)::text FROM erasure.column_policies p
    UNION ALL SELECT 'blocker', to_jsonb(b)::text FROM erasure.blockers b
    ORDER BY 1, 2"""


def equal(tool, actual, expected, what):
    if actual != expected:
        sys.exit(f"{tool}: {what}:\n  expected {expected!r}\n  got      {actual!r}")


def forward(migrate, catalog, steps):
    """Applies the steps one at a time: the catalog before the first and after each."""
    snapshots = [catalog()]
    for step in steps:
        migrate(step)
        snapshots.append(catalog())
    return snapshots


def backward(tool, migrate, catalog, steps, snapshots, zero):
    """Reverts them one at a time: each step's reverse leaves the catalog as the step found it."""
    for target, snapshot in reversed(list(zip([zero, *steps[:-1]], snapshots[:-1]))):
        migrate(target)
        equal(tool, catalog(), snapshot, f"the catalog after migrating back to {target}")
