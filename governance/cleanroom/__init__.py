"""The clean room's pure core: analysis rules, the query checker, the executor and the DP mechanisms.

No Django here (an import-linter contract checks it): it takes table schemas, rule dicts and pandas frames and
returns results, so every rule can be tested and benchmarked without a database. ``governance.clean_rooms`` is the
Django service that loads a dataset's tables, spends the privacy budget and writes the audit entries.
"""

from governance.cleanroom.checker import CheckedQuery, check_query
from governance.cleanroom.engine import QueryResult, run_query
from governance.cleanroom.rules import CleanRoomPolicy, RuleViolation, TableRule, policy_from_dict

__all__ = [
    "CheckedQuery",
    "CleanRoomPolicy",
    "QueryResult",
    "RuleViolation",
    "TableRule",
    "check_query",
    "policy_from_dict",
    "run_query",
]
